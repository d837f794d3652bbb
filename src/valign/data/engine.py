"""valign's data operators as datatrove pipeline steps, for corpora beyond one machine.

Install the extra: ``pip install 'valign[datatrove]'``. The audit is a per-document scan
and a merge; the filter is a per-document decision. Each per-document operator becomes a
datatrove ``PipelineStep``, so any datatrove executor runs it over tasks —
``LocalPipelineExecutor`` on one machine (what :func:`run_audit_datatrove` and
:func:`run_filter_datatrove` use), ``SlurmPipelineExecutor`` or ``RayPipelineExecutor`` on a
cluster (pass ``executor``):

* :class:`CorpusReader` — task ``rank`` reads pieces ``rank, rank + tasks, …`` of the
  corpus (:mod:`valign.data.pieces`); one datatrove ``Document`` per corpus document, with
  valign's id;
* :class:`ScanStep` — the audit's detectors per document (language, personal data, the
  guard, the insult lexicon, group and trait counts, contested claims, exact hash and
  MinHash signature: :class:`valign.data.scan.Scanner`), writing each piece's hashes, flags
  and counters to the audit's work folder; documents pass on unchanged;
* :class:`FilterStep` — the policy's decision per document
  (:class:`valign.data.filter.Filter`): removed documents stop here, kept ones pass on
  redacted or relabelled, counterfactual copies are added; each piece's outputs and
  accounting go to ``OUT/parts``.

Then one process merges the pieces in corpus order (:func:`finish_datatrove_audit`,
:func:`finish_datatrove_filter`): the duplicate merge, the summary and the datasheet; the
filtered corpus and its accounting. The files are the same, byte for byte, as those of
:func:`~valign.data.audit.run_audit` and :func:`~valign.data.filter.run_filter` (the
tests check it). On a cluster the output folder must be storage every task can reach, and
``piece_mb`` small enough that there are at least as many pieces as tasks.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from itertools import groupby
from pathlib import Path
from typing import Any

from valign.data.audit import AUDIT_FILE, AuditConfig, finish_audit, prepare_audit
from valign.data.filter import AuditView, Filter, finish_filter, output_files, write_decision
from valign.data.lexicons import load_lexicons
from valign.data.pieces import Piece, iter_piece, plan_pieces
from valign.data.policy import Policy
from valign.data.scan import PieceStats, ScanSettings, init_worker
from valign.data.shards import Doc, record_text
from valign.errors import UserError

try:
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.base import PipelineStep
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise UserError("valign.data.engine needs datatrove: pip install 'valign[datatrove]'") from exc

#: An executor factory: the pipeline's steps in, something with ``.run()`` out.
Executor = Callable[[list[Any]], Any]


def _doc(d: Any) -> Doc:
    return Doc(d.id, d.text, d.metadata["record"], d.metadata["nbytes"])


def _by_piece(data: Any) -> Iterator[tuple[int, Iterator[Any]]]:
    """Consecutive documents of the same piece (a task reads its pieces one by one)."""
    return groupby(data or (), key=lambda d: int(d.metadata["piece"]))


def _atomic_pickle(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(obj, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _piece_outputs(pieces: list[Piece], present: Callable[[int], bool]) -> list[bool]:
    """Which pieces have outputs; a piece without any must hold no document (else a task
    failed or did not run)."""
    have = [present(i) for i in range(len(pieces))]
    for i, ok in enumerate(have):
        if not ok and next(iter_piece(pieces[i]), None) is not None:
            raise UserError(f"piece {i} ({pieces[i].name}) was not processed: did a task fail?")
    return have


class CorpusReader(PipelineStep):
    """Reads the pieces of a corpus assigned to a task (``rank::world_size``)."""

    name = "valign corpus"
    type = "📖 - READER"

    def __init__(self, pieces: list[Piece]) -> None:
        super().__init__()
        self.pieces = pieces

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        if data:
            yield from data
        for index in range(rank, len(self.pieces), world_size):
            for doc in iter_piece(self.pieces[index]):
                self.stat_update("documents")
                meta = {"piece": index, "record": doc.record, "nbytes": doc.nbytes}
                yield Document(text=doc.text, id=doc.id, metadata=meta)


class ScanStep(PipelineStep):
    """The audit's per-document detectors; each piece's outputs go to the work folder."""

    name = "valign audit scan"
    type = "📊 - STATS"

    def __init__(self, settings: ScanSettings) -> None:
        super().__init__()
        self.settings = settings

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        scanner = init_worker(self.settings)  # one torch thread; detectors built once
        work = Path(self.settings.work)
        for index, group in _by_piece(data):
            stats, passing = PieceStats(), deque[Any]()

            def docs(group: Iterator[Any] = group, passing: deque[Any] = passing) -> Iterator[Doc]:
                for d in group:
                    passing.append(d)
                    yield _doc(d)

            for _ in scanner.scan_stream(index, docs(), stats):
                self.stat_update("scanned")
                yield passing.popleft()
            _atomic_pickle(work / f"stats-{index:06d}.pkl", stats)


def audit_steps(corpus: Path, out: Path, cfg: AuditConfig) -> tuple[list[Any], list[Piece]]:
    """The audit's scan as pipeline steps (after :func:`prepare_audit`: a fresh work
    folder in ``out``), and the pieces they read."""
    _, settings, pieces = prepare_audit(corpus, out, cfg)
    return [CorpusReader(pieces), ScanStep(settings)], pieces


def finish_datatrove_audit(
    corpus: Path,
    out: Path,
    cfg: AuditConfig,
    pieces: list[Piece] | None = None,
    tasks: int = 0,
    t0: float | None = None,
) -> dict[str, Any]:
    """The merge, once every task's scan is done: the audit files, as :func:`run_audit`.

    Without ``pieces`` they are planned again from ``cfg`` (the plan is deterministic), so
    this can run in a later process, e.g. a job that waits for a cluster's scan job;
    without ``t0`` the timing covers the merge only."""
    t0 = time.perf_counter() if t0 is None else t0
    pieces = pieces or plan_pieces(corpus, max(1, int(cfg.piece_mb * 2**20)), cfg.text_mode)
    work = out / "work"
    have = _piece_outputs(pieces, lambda i: (work / f"stats-{i:06d}.pkl").is_file())
    stats = PieceStats()
    for i, ok in enumerate(have):
        if ok:
            with (work / f"stats-{i:06d}.pkl").open("rb") as fh:
                stats.merge(pickle.load(fh))
        else:  # an empty piece: empty hash files, as a local scan would leave
            for name in ("flags-{:06d}.jsonl", "exact-{:06d}.u64", "lines-{:06d}.i64"):
                (work / name.format(i)).touch()
            for name in ("bands-{:06d}.u64", "sig-{:06d}.u16"):
                (work / name.format(i)).touch()
    return finish_audit(corpus, out, cfg, pieces, stats, tasks, t0)


def _local(tasks: int, workers: int, logs: Path) -> Executor:
    def make(pipeline: list[Any]) -> Any:
        return LocalPipelineExecutor(
            pipeline,
            tasks=tasks,
            workers=workers,
            logging_dir=str(logs),
            skip_completed=False,
        )

    return make


def _check_tasks(tasks: int, workers: int) -> None:
    if tasks < 1 or workers < 1:
        raise UserError("tasks and workers must be at least 1")


def run_audit_datatrove(
    corpus: Path,
    out: Path,
    cfg: AuditConfig | None = None,
    tasks: int = 2,
    workers: int = 2,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """:func:`~valign.data.audit.run_audit` with the scan run by a datatrove executor
    (default: local, ``tasks`` tasks on ``workers`` processes; logs in ``out/datatrove``).

    ``executor`` must return once the tasks are done, as the local one does; with one that
    submits and returns (Slurm), call :func:`audit_steps` and
    :func:`finish_datatrove_audit` yourself."""
    _check_tasks(tasks, workers)
    cfg = cfg or AuditConfig()
    t0 = time.perf_counter()
    steps, pieces = audit_steps(corpus, out, cfg)
    shutil.rmtree(out / "datatrove", ignore_errors=True)
    make = executor or _local(tasks, workers, out / "datatrove")
    make(steps).run()
    return finish_datatrove_audit(corpus, out, cfg, pieces, tasks, t0)


# -- the filter ---------------------------------------------------------------------------
class FilterStep(PipelineStep):
    """A policy's decision per document; each piece's outputs go to ``out/parts``."""

    name = "valign filter"
    type = "🔻 - FILTER"

    def __init__(self, policy: Policy, audit_dir: Path, out: Path) -> None:
        super().__init__()
        self.policy, self.audit_dir, self.out = policy, audit_dir, out

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        audit = AuditView.load(self.audit_dir)
        lex = load_lexicons([Path(f) for f in audit.summary.get("extra_lexicons", [])])
        flt = Filter(self.policy, audit, lex)
        parts = self.out / "parts"
        for index, group in _by_piece(data):
            counts: Counter[str] = Counter()
            by_rule: Counter[str] = Counter()
            with ExitStack() as stack:
                fh = {
                    k: stack.enter_context(
                        (parts / f"{k}-{index:06d}.jsonl").open("w", encoding="utf-8")
                    )
                    for k in ("corpus", "removed", "changes")
                }
                for d in group:
                    doc = _doc(d)
                    dec = write_decision(
                        flt, doc, fh["corpus"], fh["removed"], fh["changes"], counts, by_rule
                    )
                    if dec.removed is not None:
                        self.stat_update("removed")
                        continue
                    self.stat_update("kept")
                    yield self._document(doc.id, dec.record, index)
                    for new_id, record, _ in dec.added:
                        self.stat_update("added")
                        yield self._document(new_id, record, index)
            counts_file = parts / f"counts-{index:06d}.pkl"
            _atomic_pickle(counts_file, {"counts": counts, "by_rule": by_rule})

    @staticmethod
    def _document(doc_id: str, record: dict[str, Any], piece: int) -> Any:
        nbytes = len(json.dumps(record, ensure_ascii=False).encode())
        meta = {"piece": piece, "record": record, "nbytes": nbytes}
        return Document(text=record_text(record), id=doc_id, metadata=meta)


def filter_steps(
    corpus: Path, policy: Policy, audit_dir: Path, out: Path, piece_mb: float = 64
) -> tuple[list[Any], list[Piece]]:
    """The filter as pipeline steps (``out/parts`` made empty), and the pieces they read."""
    audit = json.loads((audit_dir / AUDIT_FILE).read_text()) if audit_dir.is_dir() else None
    if audit is None:
        raise UserError(f"{audit_dir}: not an audit folder (no {AUDIT_FILE})")
    text_mode = audit.get("text_mode", "lines")
    pieces = plan_pieces(corpus, max(1, int(piece_mb * 2**20)), text_mode)
    shutil.rmtree(out / "parts", ignore_errors=True)
    (out / "parts").mkdir(parents=True)
    return [CorpusReader(pieces), FilterStep(policy, audit_dir, out)], pieces


def finish_datatrove_filter(
    corpus: Path,
    policy: Policy,
    audit_dir: Path,
    out: Path,
    pieces: list[Piece],
    t0: float | None = None,
) -> dict[str, Any]:
    """Concatenate the pieces' outputs in corpus order into the files of
    :func:`~valign.data.filter.run_filter`, and write ``filter.json`` (``pieces``: those
    :func:`filter_steps` returned, or the same plan again)."""
    t0 = time.perf_counter() if t0 is None else t0
    parts = out / "parts"
    have = _piece_outputs(pieces, lambda i: (parts / f"counts-{i:06d}.pkl").is_file())
    counts: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    targets = {name: target for _, name, target in output_files(corpus, out)}
    outputs = [str(t.relative_to(out)) for t in targets.values()]
    with ExitStack() as stack:
        dst: dict[Path, Any] = {}
        for target in targets.values():
            target.parent.mkdir(parents=True, exist_ok=True)
            dst[target] = stack.enter_context(target.open("wb"))
        removed = stack.enter_context((out / "removed.jsonl").open("wb"))
        changes = stack.enter_context((out / "changes.jsonl").open("wb"))
        for i, piece in enumerate(pieces):
            if not have[i]:
                continue
            for name, fh in (("corpus", dst[targets[piece.name]]), ("removed", removed)):
                with (parts / f"{name}-{i:06d}.jsonl").open("rb") as src:
                    shutil.copyfileobj(src, fh)
            with (parts / f"changes-{i:06d}.jsonl").open("rb") as src:
                shutil.copyfileobj(src, changes)
            with (parts / f"counts-{i:06d}.pkl").open("rb") as fh_counts:
                c = pickle.load(fh_counts)
            counts.update(c["counts"])
            by_rule.update(c["by_rule"])
    shutil.rmtree(parts, ignore_errors=True)
    return finish_filter(corpus, policy, out, audit_dir, outputs, counts, by_rule, t0)


def run_filter_datatrove(
    corpus: Path,
    policy: Policy,
    audit_dir: Path,
    out: Path,
    tasks: int = 2,
    workers: int = 2,
    piece_mb: float = 64,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """:func:`~valign.data.filter.run_filter` with the decisions run by a datatrove
    executor (default: local; logs in ``out/datatrove``). Needs the audit folder."""
    _check_tasks(tasks, workers)
    t0 = time.perf_counter()
    steps, pieces = filter_steps(corpus, policy, audit_dir, out, piece_mb)
    shutil.rmtree(out / "datatrove", ignore_errors=True)
    make = executor or _local(tasks, workers, out / "datatrove")
    make(steps).run()
    return finish_datatrove_filter(corpus, policy, audit_dir, out, pieces, t0)
