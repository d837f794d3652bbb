"""Cutting a corpus into pieces that worker processes scan independently.

A shard is one piece, except a large uncompressed JSONL file, which is cut at line
boundaries into pieces of about ``piece_bytes`` so that one big file still keeps every core
busy. A piece knows the number of its first line, so document ids (``<shard>:<line>``) are
the same however the corpus is cut.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from valign.data.shards import (
    Doc,
    iter_shard,
    list_shards,
    parse_object,
    record_text,
    shard_format,
    shard_name,
)


@dataclass(frozen=True)
class Piece:
    """A byte range of a JSONL shard (``end`` -1: to the end), or a whole shard."""

    path: str
    name: str
    start: int = 0
    end: int = -1
    first_line: int = 0
    text_mode: str = "lines"


def _splittable(path: Path) -> bool:
    return shard_format(path) == "jsonl" and not path.name.lower().endswith(".gz")


def _cut(path: Path, name: str, piece_bytes: int) -> list[Piece]:
    size = path.stat().st_size
    if size <= piece_bytes:
        return [Piece(str(path), name)]
    pieces = []
    start, line = 0, 0
    with path.open("rb") as fh:
        while start < size:
            fh.seek(min(start + piece_bytes, size))
            fh.readline()  # finish the line the cut fell in
            end = min(fh.tell(), size)
            pieces.append(Piece(str(path), name, start, end, line))
            fh.seek(start)
            remaining, chunk = end - start, 1 << 20
            while remaining > 0:
                buf = fh.read(min(chunk, remaining))
                line += buf.count(b"\n")
                remaining -= len(buf)
            start = end
    return pieces


def plan_pieces(corpus: Path, piece_bytes: int = 64 << 20, text_mode: str = "lines") -> list[Piece]:
    """Every piece of the corpus, in corpus order."""
    pieces: list[Piece] = []
    for shard in list_shards(corpus):
        name = shard_name(shard, corpus)
        if _splittable(shard):
            pieces += _cut(shard, name, piece_bytes)
        else:
            pieces.append(Piece(str(shard), name, text_mode=text_mode))
    return pieces


def iter_piece(piece: Piece) -> Iterator[Doc]:
    """Stream the documents of one piece."""
    path = Path(piece.path)
    if not _splittable(path):
        yield from iter_shard(path, piece.name, piece.text_mode)
        return
    with path.open("rb") as fh:
        fh.seek(piece.start)
        line = piece.first_line
        pos = piece.start
        for raw in fh:
            if piece.end >= 0 and pos >= piece.end:
                break
            pos += len(raw)
            if raw.strip():
                record = parse_object(raw, f"{path}:{line + 1}")
                yield Doc(f"{piece.name}:{line}", record_text(record), record, len(raw))
            line += 1
