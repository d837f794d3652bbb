"""Where every data input comes from: a JSONL file, a Parquet file or a Hugging Face dataset.

Comparisons, demonstrations, prompts, task files and texts are all read through
:func:`iter_rows`, which takes

* a JSONL file (JSON Lines, whatever its suffix), streamed line by line;
* a Parquet file (``.parquet``), streamed in record batches;
* a Hugging Face dataset id, ``org/name`` or ``org/name:split`` (the train split by
  default), through ``datasets.load_dataset`` (the hub, or its local cache offline);
* a folder holding a dataset: one written by ``Dataset.save_to_disk`` or a folder of data
  files, through ``datasets``.

and yields ``(where, row)`` pairs, ``where`` naming the row in errors (``file:line``,
``file:row N``, ``org/name:row N``). A null field of a Parquet or dataset row is left
out, as the row did not have it (a table has every column in every row). Each reader then
checks the rows' fields itself: the formats differ, the way in does not. A source that
cannot be read is one line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.jsonl import iter_objects

# Suffixes that name a file, never a dataset id ("runs/eval.jsonl" is a missing file).
FILE_SUFFIXES = (".jsonl", ".json", ".ndjson", ".parquet", ".txt", ".csv", ".yaml", ".yml")


def is_hub_id(spec: str | Path) -> bool:
    """Whether ``spec`` reads as a Hugging Face dataset id (``org/name[:split]``) and is not a
    path on this machine."""
    text = str(spec)
    name = text.partition(":")[0]
    return (
        name.count("/") == 1
        and not Path(text).exists()
        and not name.startswith((".", "/", "~"))
        and not name.endswith("/")
        and not name.lower().endswith(FILE_SUFFIXES)
    )


def source_stem(spec: str | Path) -> str:
    """A short name for ids of rows that have none: the file's stem, or ``org-name``."""
    text = str(spec)
    if is_hub_id(text):
        return text.partition(":")[0].replace("/", "-")
    return Path(text).stem


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _present(row: dict[str, Any]) -> dict[str, Any]:
    """A columnar row without its null fields: a table has every column in every row, so
    a null there is a field the row did not have."""
    return {key: value for key, value in row.items() if value is not None}


def _parquet_rows(path: Path, what: str) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=1024)
        i = 0
        for batch in batches:
            for row in batch.to_pylist():
                i += 1
                yield f"{path}:row {i}", _present(row)
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None


DATA_FILES = (".parquet", ".jsonl", ".json", ".csv", ".arrow")


def _holds_a_dataset(folder: Path) -> bool:
    """A ``save_to_disk`` folder, or one with data files (at the top or one level down)."""
    files = [*folder.iterdir(), *(f for d in folder.iterdir() if d.is_dir() for f in d.iterdir())]
    return any(f.is_file() and f.suffix.lower() in DATA_FILES for f in files)


def _dataset_rows(spec: str, label: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rows of a hub id or a local dataset folder, loaded with ``datasets``."""
    name, _, split = spec.partition(":") if is_hub_id(spec) else (spec, "", "")
    try:
        import datasets

        folder = Path(name)
        if folder.is_dir() and any(
            (folder / f).is_file() for f in ("dataset_info.json", "dataset_dict.json")
        ):
            data: Any = datasets.load_from_disk(str(folder))
            if isinstance(data, datasets.DatasetDict):
                data = data[split or "train"]
        else:
            data = datasets.load_dataset(name, split=split or "train")
    except Exception as exc:  # offline, unknown id, no such split: one line, not a traceback
        raise UserError(
            f"{spec}: no such file, and not loadable as a Hugging Face dataset ({_first_line(exc)})"
        ) from None
    for i, row in enumerate(data, 1):
        yield f"{label}:row {i}", _present(dict(row))


def iter_rows(source: str | Path, what: str = "data file") -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, row)`` for every row of ``source`` (see the module docstring); ``what``
    names the input in errors ("demonstration file", "prompt file")."""
    spec = str(source)
    path = Path(spec)
    if path.suffix.lower() == ".parquet":
        return _parquet_rows(path, what)
    if path.is_dir() and _holds_a_dataset(path):
        return _dataset_rows(spec, spec)
    if is_hub_id(spec):
        return _dataset_rows(spec, spec)
    return iter_objects(path, what)
