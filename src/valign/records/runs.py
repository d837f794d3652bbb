"""One run-record format for every stage.

A run is a folder with one subfolder per stage::

    runs/demo-01/
      pretrain/   manifest.json  records.jsonl  DONE.json
      redteam/    manifest.json  records.jsonl  DONE.json
      evals/      manifest.json  records.jsonl            <- interrupted: no DONE.json

* ``manifest.json`` says what produced the stage: versions, seed, config and its hash.
* ``*.jsonl`` files hold one JSON object per line, appended as results arrive, so a crash
  loses at most the line being written and a restarted stage can skip finished items
  (:func:`completed_ids`).
* ``DONE.json`` is written atomically and last. Its presence is the only signal that a
  stage finished; it holds the manifest and a summary (metrics plus an optional
  ``"report"`` section that :func:`valign.report.render_report` draws).

Because red-team, guard and eval stages all write this format, their results are
comparable across runs and an interrupted pipeline resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from valign.errors import UserError

__all__ = [
    "DONE_FILE",
    "MANIFEST_FILE",
    "TRACKED_PACKAGES",
    "RecordWriter",
    "RunDir",
    "atomic_write_json",
    "atomic_write_text",
    "canonical_json",
    "completed_ids",
    "config_hash",
    "config_to_dict",
    "manifest",
    "read_json",
    "read_records",
    "to_jsonable",
]

DONE_FILE = "DONE.json"
MANIFEST_FILE = "manifest.json"

#: Distributions whose versions a manifest records (those installed).
TRACKED_PACKAGES = (
    "torch",
    "transformers",
    "tokenizers",
    "accelerate",
    "trl",
    "numpy",
    "pydantic",
)


# --------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
    """``json.dumps`` fallback for the types stages commonly put in records.

    Handles objects with ``to_dict()`` (e.g. :class:`valign.stats.Estimate`),
    pydantic models, dataclasses, paths, sets and numpy scalars/arrays.
    """
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept. Used for hashing."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=to_jsonable
    )


# --------------------------------------------------------------------------- atomic writes


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` so that readers see either the old file or the new one.

    The text goes to a temporary file in the same directory (same filesystem), is flushed
    and fsync'ed, then ``os.replace``d over the target, which is atomic on POSIX and
    Windows. If anything fails the temporary file is removed and the target is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Serialise ``obj`` (indented, UTF-8) and write it with :func:`atomic_write_text`.

    Serialisation happens before the file is touched, so an unserialisable object never
    leaves a partial file.
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=to_jsonable) + "\n"
    return atomic_write_text(path, text)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from exc


# --------------------------------------------------------------------------- manifest


def config_to_dict(config: Any) -> dict[str, Any]:
    """A plain JSON-ready dict from a dict, pydantic model or dataclass config."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        data = dict(config)
    elif callable(getattr(config, "model_dump", None)):
        data = config.model_dump(mode="json")
    elif dataclasses.is_dataclass(config) and not isinstance(config, type):
        data = dataclasses.asdict(config)
    else:
        raise TypeError(f"config must be a dict, pydantic model or dataclass, not {type(config)}")
    # Round-trip so that paths, tuples and numpy scalars become plain JSON values.
    result: dict[str, Any] = json.loads(canonical_json(data))
    return result


def config_hash(config: Any) -> str:
    """First 16 hex digits of the SHA-256 of the config's canonical JSON.

    Key order and formatting do not change the hash; any value change does.
    """
    text = canonical_json(config_to_dict(config))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _valign_version() -> str:
    import valign

    return str(valign.__version__)


def manifest(stage: str, config: Any, seed: int | None) -> dict[str, Any]:
    """What produced a stage's results, enough to compare or reproduce a run.

    Versions are read from package metadata, so recording them does not import torch.
    """
    cfg = config_to_dict(config)
    return {
        "stage": stage,
        "valign_version": _valign_version(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": _package_versions(),
        "seed": seed,
        "config": cfg,
        "config_hash": config_hash(cfg),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
    }


# --------------------------------------------------------------------------- JSONL records


def _repair_tail(path: Path) -> None:
    """Make ``path`` end on a complete line before appending to it.

    A crash mid-write can leave a last line without its newline. If that fragment is a
    complete JSON object only the newline was lost and it is kept; otherwise it is cut off.
    """
    if not path.exists():
        return
    with path.open("rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        # Find the start of the unterminated last line.
        pos = size
        chunk = 65536
        start = 0
        while pos > 0:
            read_from = max(0, pos - chunk)
            handle.seek(read_from)
            data = handle.read(pos - read_from)
            newline = data.rfind(b"\n")
            if newline != -1:
                start = read_from + newline + 1
                break
            pos = read_from
        handle.seek(start)
        tail = handle.read()
        if _parse_line(tail) is not None:
            handle.seek(size)
            handle.write(b"\n")
        else:
            handle.truncate(start)
        handle.flush()
        os.fsync(handle.fileno())


def _parse_line(raw: bytes | str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class RecordWriter:
    """Append-only JSONL writer: one JSON object per line, flushed after every write.

    Opening a file that ends in a partial line (a crash mid-write) first removes that
    fragment, so appending continues on a clean line. Use as a context manager::

        with RecordWriter(stage_dir / "records.jsonl") as out:
            for item in items:
                if item.id not in done:
                    out.write({"id": item.id, ...})

    ``fsync=True`` also forces every line to disk (slower; for long, expensive items).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _repair_tail(self.path)
        self._handle: IO[str] | None = self.path.open("a", encoding="utf-8", newline="\n")

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as a single line and flush it."""
        if self._handle is None:
            raise ValueError(f"RecordWriter for {self.path} is closed")
        if not isinstance(record, Mapping):
            raise TypeError(f"a record must be a mapping, not {type(record).__name__}")
        # Serialise first so that an unserialisable record writes nothing.
        line = json.dumps(dict(record), ensure_ascii=False, default=to_jsonable) + "\n"
        self._handle.write(line)
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())

    def write_many(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append several records, one line each."""
        for record in records:
            self.write(record)

    def close(self) -> None:
        """Close the file; further writes raise."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All records of a JSONL file, in order; a missing file has none.

    A last line without its newline that does not parse (a write cut short by a crash)
    is dropped. Any other malformed line means the file was damaged or is not a record
    file, and raises :class:`~valign.errors.UserError`. Blank lines are skipped.
    """
    source = Path(path)
    if not source.exists():
        return []
    data = source.read_bytes()
    lines = data.split(b"\n")
    records: list[dict[str, Any]] = []
    last = len(lines) - 1
    for number, raw in enumerate(lines):
        if not raw.strip():
            continue
        record = _parse_line(raw)
        if record is None:
            if number == last:  # unterminated final line: an interrupted write
                break
            raise UserError(f"{source}:{number + 1}: not a JSON object record")
        records.append(record)
    return records


def completed_ids(path: str | os.PathLike[str], key: str = "id") -> set[Any]:
    """The ``key`` values of the records already in ``path``, for resuming a stage.

    Records without ``key`` are ignored. Unhashable values (lists) are turned into tuples.
    """
    ids: set[Any] = set()
    for record in read_records(path):
        if key in record:
            value = record[key]
            ids.add(tuple(value) if isinstance(value, list) else value)
    return ids


# --------------------------------------------------------------------------- run folder


class RunDir:
    """A run folder with one subfolder per stage and an atomic ``DONE.json`` per stage.

    ``mark_done`` is the last thing a stage does; a stage without the marker is treated
    as not run (its partial JSONL records may still be reused through
    :func:`completed_ids`). This is how an interrupted ``valign demo`` resumes.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    @staticmethod
    def _check_name(name: str) -> None:
        if not name or name in {".", ".."} or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"invalid stage name {name!r}")

    def stage_path(self, name: str) -> Path:
        """The stage's folder, without creating it."""
        self._check_name(name)
        return self.root / name

    def stage(self, name: str) -> Path:
        """The stage's folder, created if needed."""
        path = self.stage_path(name)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def records_path(self, name: str, filename: str = "records.jsonl") -> Path:
        """Path of a JSONL record file inside the stage's folder (folder created)."""
        return self.stage(name) / filename

    def writer(
        self, name: str, filename: str = "records.jsonl", *, fsync: bool = False
    ) -> RecordWriter:
        """A :class:`RecordWriter` appending to the stage's record file."""
        return RecordWriter(self.records_path(name, filename), fsync=fsync)

    def stages(self) -> list[str]:
        """Names of the stage folders present, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def write_manifest(self, name: str, manifest: Mapping[str, Any]) -> Path:
        """Write ``manifest.json`` for the stage (atomically); call when the stage starts."""
        return atomic_write_json(self.stage(name) / MANIFEST_FILE, dict(manifest))

    def read_manifest(self, name: str) -> dict[str, Any] | None:
        """The stage's ``manifest.json``, or ``None`` if it has not started."""
        path = self.stage_path(name) / MANIFEST_FILE
        if not path.exists():
            return None
        data = read_json(path)
        return data if isinstance(data, dict) else None

    def mark_done(self, name: str, manifest: Mapping[str, Any], summary: Mapping[str, Any]) -> Path:
        """Write the stage's ``DONE.json`` (manifest, summary, finish time) atomically.

        ``summary`` must be JSON-serialisable (Estimates and numpy scalars are converted).
        It may hold a ``"report"`` section; see :mod:`valign.report.html`.
        """
        marker = {
            "stage": name,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "manifest": dict(manifest),
            "summary": dict(summary),
        }
        return atomic_write_json(self.stage(name) / DONE_FILE, marker)

    def run_stage(
        self,
        name: str,
        config: Any,
        seed: int | None,
        fn: Callable[[], dict[str, Any]],
        console: Any = None,
        label: str | None = None,
    ) -> dict[str, Any]:
        """Run one resumable stage: skipped (its recorded summary returned) when done;
        otherwise manifest first, ``fn()``, its wall clock in ``seconds``, ``DONE.json`` last.

        ``console`` (a rich Console) reports progress under ``label`` (default: the name).
        """
        label = label or name
        if self.is_done(name):
            if console is not None:
                console.print(f"[dim]✓ {label} (already done)[/]")
            return self.summary(name) or {}
        if console is not None:
            console.print(f"[bold]▶ {label}[/]")
        m = manifest(name, config, seed)
        self.write_manifest(name, m)
        t0 = time.perf_counter()
        summary = fn()
        summary["seconds"] = round(time.perf_counter() - t0, 1)
        self.mark_done(name, m, summary)
        if console is not None:
            console.print(f"[green]✓ {label}[/] in {summary['seconds']:.0f} s")
        return summary

    def done_marker(self, name: str) -> dict[str, Any] | None:
        """The whole ``DONE.json`` content, or ``None`` if the stage is not done."""
        path = self.stage_path(name) / DONE_FILE
        if not path.exists():
            return None
        data = read_json(path)
        if not isinstance(data, dict):
            raise UserError(f"{path} is not a stage marker (expected a JSON object)")
        return data

    def is_done(self, name: str) -> bool:
        """Whether the stage finished (its ``DONE.json`` exists)."""
        return (self.stage_path(name) / DONE_FILE).is_file()

    def summary(self, name: str) -> dict[str, Any] | None:
        """The summary the stage recorded when it finished, or ``None``."""
        marker = self.done_marker(name)
        if marker is None:
            return None
        summary = marker.get("summary")
        return summary if isinstance(summary, dict) else {}

    def clear_done(self, name: str) -> None:
        """Remove the stage's marker so that the next run redoes it."""
        (self.stage_path(name) / DONE_FILE).unlink(missing_ok=True)
