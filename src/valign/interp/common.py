"""What the interpretability commands share: opening a model whose insides can be hooked,
finding the microworld, and recording a finished job in its run folder."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.models import HFChatModel, load_model
from valign.models.threads import set_threads
from valign.records.runs import RunDir, manifest

INTERP_STAGES = ("explain", "probe", "steer")


def open_model(spec: str, threads: int = 0) -> HFChatModel:
    """A local Hugging Face chat model (folder or hub id): hooks need the weights here,
    so an endpoint is refused with a one-line error."""
    set_threads(threads)
    chat = load_model(spec)
    if not isinstance(chat, HFChatModel):
        raise UserError(
            f"{spec} is an endpoint; interpretability reads activations, so it needs the "
            "model's weights on this machine (a folder or hub id)"
        )
    return chat


def world_dir(path: str | None, seed: int = 0) -> Path:
    """The microworld folder given, or the default world built once into the cache that
    ``valign eval`` also uses."""
    if path:
        p = Path(path)
        if not (p / "world.json").is_file() and not (p / "eval.jsonl").is_file():
            raise UserError(f"not a microworld folder (no world.json or eval.jsonl): {p}")
        return p
    from valign.world.splits import WorldConfig, build_world

    cache = Path(tempfile.gettempdir()) / "valign-cache" / f"world-{seed}"
    if not (cache / "world.json").is_file():
        build_world(cache, WorldConfig(seed=seed))
    return cache


def run_job(
    out: Path, stage: str, settings: Any, seed: int, work: Callable[[Path], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``work(stage_folder)`` as stage ``stage`` of the run folder ``out``: manifest
    first, ``DONE.json`` with the returned summary last.

    A rerun with the same settings resumes (the steering sweep keeps its graded replies);
    a run with other settings starts from an empty stage folder, so no record of the old
    settings is ever mixed into the new results."""
    run = RunDir(out)
    m = manifest(f"interp.{stage}", settings, seed)
    old = run.read_manifest(stage)
    if old is not None and old.get("config_hash") != m["config_hash"]:
        shutil.rmtree(run.stage_path(stage))
    run.clear_done(stage)
    run.write_manifest(stage, m)
    start = time.perf_counter()
    summary = work(run.stage(stage))
    summary["seconds"] = round(time.perf_counter() - start, 1)
    run.mark_done(stage, m, summary)
    return summary
