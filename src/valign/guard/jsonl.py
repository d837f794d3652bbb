"""The guard's file contract: JSONL in, the same lines with verdicts added out.

The input can also be a Parquet file or a Hugging Face dataset id (``org/name[:split]``).

``classify``: each line is a JSON object with ``prompt`` (string) and optionally ``response``
(string or null; then the response is judged in the prompt's context), plus any other
fields, which are kept as they are. Each output line adds ``flagged`` (bool), ``score``
(probability of unsafe, 0..1) and ``categories`` (category id -> score).

``refusal``: each line has ``response`` and, optionally, ``prompt``; each output line adds
``refusal`` (bool), ``refusal_score`` (0..1), ``refusal_kind`` and ``attempt``.

The whole input is read and checked before any model is loaded, so a mistake on line 9,000
is reported at once, as ``FILE:LINE: what is wrong``. Output is written to a temporary file
beside the target and renamed at the end: an interrupted run never leaves a half file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from valign.errors import UserError
from valign.guard.types import GuardBackend, GuardInput
from valign.models.progress import progress_bar
from valign.records.sources import is_hub_id, iter_rows

Record = dict[str, Any]


def read_records(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = ()
) -> list[Record]:
    """Parse and check a JSONL file: objects with string ``required`` fields and string-or-null
    ``optional`` fields. ``-`` reads standard input; a Parquet file or a Hugging Face dataset
    id is read through ``valign.records.sources``."""
    name = str(path)
    if name != "-" and (name.lower().endswith(".parquet") or is_hub_id(name)):
        return [_checked(where, row, required, optional) for where, row in iter_rows(name)]
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(f"{name}:{line}: not valid UTF-8") from exc
    records: list[Record] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{name}:{lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise UserError(f"{name}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        records.append(_checked(f"{name}:{lineno}", obj, required, optional))
    return records


def _checked(where: str, obj: Record, required: Sequence[str], optional: Sequence[str]) -> Record:
    for key in required:
        if key not in obj:
            raise UserError(f"{where}: missing field '{key}'")
        if not isinstance(obj[key], str):
            raise UserError(f"{where}: '{key}' must be a string")
    for key in optional:
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise UserError(f"{where}: '{key}' must be a string or null")
    return obj


@contextmanager
def _atomic_output(path: str | Path) -> Iterator[IO[str]]:
    if str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    if target.is_dir():
        raise UserError(f"output path is a folder: {target}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _run(
    records: list[Record],
    out: str | Path,
    annotate: Callable[[list[Record]], list[Record]],
    batch_size: int,
    progress: bool,
    label: str,
) -> int:
    with (
        _atomic_output(out) as handle,
        progress_bar(len(records), label, progress) as advance,
    ):
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            for record in annotate(batch):
                handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            advance(len(batch))
    return len(records)


def classify_file(
    src: str | Path,
    out: str | Path,
    guard: GuardBackend | Callable[[], GuardBackend],
    batch_size: int = 64,
    progress: bool = False,
) -> int:
    """Add ``flagged``, ``score`` and ``categories`` to every line of ``src``; returns the count.

    ``guard`` may be a factory, called only after the input has been checked.
    """
    records = read_records(src, ["prompt"], ["response"])
    backend = guard if isinstance(guard, GuardBackend) else guard()

    def annotate(batch: list[Record]) -> list[Record]:
        inputs = [GuardInput(r["prompt"], r.get("response")) for r in batch]
        verdicts = backend.classify(inputs)
        return [
            {**r, "flagged": v.flagged, "score": v.score, "categories": v.categories}
            for r, v in zip(batch, verdicts, strict=True)
        ]

    return _run(records, out, annotate, batch_size, progress, "classifying")


def refusal_file(
    src: str | Path,
    out: str | Path,
    detector: Any,
    batch_size: int = 64,
    progress: bool = False,
) -> int:
    """Add the detector's verdict (:meth:`RefusalResult.to_dict`) to every line of ``src``;
    returns the count.

    ``detector`` is a :class:`~valign.guard.refusal.RefusalDetector` or a factory of one.
    """
    records = read_records(src, ["response"], ["prompt"])
    det = detector if hasattr(detector, "detect") else detector()

    def annotate(batch: list[Record]) -> list[Record]:
        results = det.detect([(r.get("prompt") or "", r["response"]) for r in batch])
        return [{**r, **x.to_dict()} for r, x in zip(batch, results, strict=True)]

    return _run(records, out, annotate, batch_size, progress, "detecting refusals")
