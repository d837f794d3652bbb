"""One evaluation run: load tasks and model, evaluate with progress, write the scorecard.

Writes into ``out``: ``responses.jsonl`` (one graded record per item, resumable),
``scorecard.json`` and ``manifest.json`` (versions, settings, config hash).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from valign.evals.runner import evaluate_items
from valign.evals.scorecard import compute_scorecard
from valign.evals.tasks import Item, load_items
from valign.models import GenerationConfig, load_model
from valign.report.records import atomic_write_json, manifest
from valign.values import compose, load_constitution, load_overlay


class EvalSettings(BaseModel):
    """What to evaluate and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Model folder, hub id or OpenAI-compatible endpoint.")
    tasks: str | None = Field(None, description="Task file; None uses the microworld's eval split.")
    constitution: str = Field("default", description="Constitution for the per-principle rows.")
    overlays: tuple[str, ...] = Field((), description="Overlays composed onto the constitution.")
    limit: int = Field(0, description="Only the first N items (0: all).")
    batch_size: int = Field(32, description="Generation batch size.")
    max_new_tokens: int = Field(64, description="Longest reply in tokens.")
    seed: int = Field(0, description="World seed when the microworld split is used.")


def microworld_eval_items(seed: int = 0) -> list[Item]:
    """The microworld's evaluation split, built on demand into a cache folder."""
    from valign.world.splits import WorldConfig, build_world

    cache = Path(tempfile.gettempdir()) / "valign-cache" / f"world-{seed}"
    if not (cache / "eval.jsonl").is_file():
        build_world(cache, WorldConfig(seed=seed))
    return load_items(cache / "eval.jsonl")


def run_eval(
    settings: EvalSettings, out: Path, console: Console | None = None, model: Any = None
) -> dict[str, Any]:
    """Evaluate and return the scorecard dict (also written to ``out/scorecard.json``)."""
    # Cheap checks first: a bad task file or a missing model fails before any work.
    items = load_items(settings.tasks) if settings.tasks else None
    model = model or load_model(settings.model)
    if items is None:
        items = microworld_eval_items(settings.seed)
    if settings.limit > 0:
        items = items[: settings.limit]
    constitution = load_constitution(settings.constitution)
    if settings.overlays:
        constitution = compose(constitution, [load_overlay(o) for o in settings.overlays])
    out.mkdir(parents=True, exist_ok=True)
    gen = GenerationConfig(
        max_new_tokens=settings.max_new_tokens, temperature=0.0, batch_size=settings.batch_size
    )
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("evaluating", total=len(items))
        records = evaluate_items(
            model,
            items,
            out / "responses.jsonl",
            gen,
            on_progress=lambda d, t: bar.update(task, completed=d),
        )
    card = compute_scorecard(records, constitution)
    card["model"] = settings.model
    atomic_write_json(out / "scorecard.json", card)
    atomic_write_json(out / "manifest.json", manifest("eval", settings, settings.seed))
    return card
