"""Reading a corpus as a stream of documents, one shard at a time.

A corpus is a file or a folder of shards: JSONL (``.jsonl``, ``.jsonl.gz``), Parquet
(``.parquet``) or plain text (``.txt``: one document per line, or per blank-line-separated
paragraph block with ``text_mode="blocks"``). A document is never read twice into memory and
a shard is never loaded whole: JSONL and text are read line by line, Parquet one record
batch at a time.

Every document has a stable id, ``<shard>:<index>`` (the shard's path relative to the corpus
root and the 0-based line number for JSONL, record number for Parquet, document number for
text), which audits, filters and their records refer to.

The text of a record is its ``text`` field, or its ``messages`` (chat turns) joined by
newlines with their roles, so a dialogue is judged as a whole.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from valign.errors import UserError

SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet", ".txt", ".txt.gz")


@dataclass(frozen=True)
class Doc:
    """One document of a shard.

    Attributes:
        id: ``<shard>:<index>``, stable across runs.
        text: What detectors read (a dialogue's turns joined).
        record: The raw record as it will be written back (JSON object).
        nbytes: Size of the raw record in bytes (for throughput in MB/s).
    """

    id: str
    text: str
    record: dict[str, Any]
    nbytes: int

    @property
    def is_dialogue(self) -> bool:
        return isinstance(self.record.get("messages"), list)


def shard_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".json")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".txt", ".txt.gz")):
        return "text"
    raise UserError(f"{path}: unknown shard format (expected one of {', '.join(SUFFIXES)})")


def list_shards(corpus: Path) -> list[Path]:
    """The shards of a corpus (a file, or every shard file under a folder), sorted."""
    if corpus.is_file():
        shard_format(corpus)
        return [corpus]
    if not corpus.is_dir():
        raise UserError(f"corpus not found: {corpus}")
    shards = sorted(
        p
        for p in corpus.rglob("*")
        if p.is_file() and p.name.lower().endswith(SUFFIXES) and not p.name.startswith(".")
    )
    if not shards:
        raise UserError(f"{corpus}: no shards ({', '.join(SUFFIXES)}) in the folder")
    return shards


def shard_name(shard: Path, corpus: Path) -> str:
    return shard.name if corpus.is_file() else str(shard.relative_to(corpus))


def record_text(record: dict[str, Any]) -> str:
    """The text detectors read: ``text``, else the chat turns joined with their roles."""
    text = record.get("text")
    if isinstance(text, str):
        return text
    messages = record.get("messages")
    if isinstance(messages, list):
        return "\n".join(
            f"{m.get('role', '')}: {m.get('content', '')}" for m in messages if isinstance(m, dict)
        )
    return ""


def _open_text(path: Path) -> TextIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def parse_object(line: str | bytes, where: str) -> dict[str, Any]:
    """One JSONL line as a JSON object; a bad line is a one-line error naming ``where``."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected a JSON object per line")
    return record


def _jsonl(path: Path, name: str) -> Iterator[Doc]:
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                record = parse_object(line, f"{path}:{lineno}")
                yield Doc(f"{name}:{lineno - 1}", record_text(record), record, len(line.encode()))


def _text(path: Path, name: str, blocks: bool) -> Iterator[Doc]:
    with _open_text(path) as fh:
        index = 0
        buffer: list[str] = []

        def flush() -> Doc:
            text = "\n".join(buffer).strip()
            return Doc(f"{name}:{index}", text, {"text": text}, len(text.encode()) + 1)

        for line in fh:
            stripped = line.rstrip("\n")
            if not blocks:
                if stripped.strip():
                    yield Doc(f"{name}:{index}", stripped, {"text": stripped}, len(line.encode()))
                    index += 1
                continue
            if stripped.strip():
                buffer.append(stripped)
            elif buffer:
                yield flush()
                index += 1
                buffer = []
        if blocks and buffer:
            yield flush()


def _parquet(path: Path, name: str, batch_size: int = 4096) -> Iterator[Doc]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise UserError("reading Parquet shards needs pyarrow (pip install pyarrow)") from None
    index = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
        for record in batch.to_pylist():
            raw = json.dumps(record, ensure_ascii=False, default=str)
            yield Doc(f"{name}:{index}", record_text(record), record, len(raw.encode()))
            index += 1


def iter_shard(path: Path, name: str, text_mode: str = "lines") -> Iterator[Doc]:
    """Stream the documents of one shard."""
    fmt = shard_format(path)
    if fmt == "jsonl":
        return _jsonl(path, name)
    if fmt == "parquet":
        return _parquet(path, name)
    return _text(path, name, blocks=text_mode == "blocks")
