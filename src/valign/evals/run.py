"""One evaluation run: load tasks and model, evaluate with progress, write the scorecard.

Writes into ``out``: ``responses.jsonl`` (one graded record per item, resumable),
``scorecard.json``, ``manifest.json`` (versions, settings, config hash) and
``eval_settings.json`` (what the replies depend on: model, task content hash, reply length,
seed, tokenizer). A folder resumes only under the same ``eval_settings``; otherwise the
run stops with a one-line error naming the differing fields (``restart`` starts over).

Every scorecard names its task set by a SHA-256 of the items' canonical JSONL, so two
scorecards are comparable exactly when their ``tasks.sha256`` agree. A task file that sits
beside a ``world.json`` (a built microworld) must still match the hash recorded there: an
edited split is refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from valign.errors import UserError
from valign.evals.card import record_scorecard
from valign.evals.judge import make_judge
from valign.evals.runner import evaluate_items
from valign.evals.scorecard import compute_scorecard
from valign.evals.settings import EvalSettings
from valign.models import GenerationConfig, load_model
from valign.records.runs import atomic_write_json, manifest
from valign.records.tasks import Item, load_items, tasks_sha256
from valign.values import Constitution, load_composed

# The settings that decide the recorded replies: a folder resumes only when these agree.
REPLY_FIELDS = ("model", "max_new_tokens", "seed", "tokenizer")
SETTINGS_FILE = "eval_settings.json"


def microworld_eval_items(seed: int = 0) -> list[Item]:
    """The microworld's evaluation split, generated in memory (no cache to go stale)."""
    from valign.world.splits import microworld_eval_episodes

    return [ep.item for ep in microworld_eval_episodes(seed)]


def check_world_split(path: Path) -> None:
    """Refuse a microworld split whose bytes differ from its ``world.json`` record."""
    record = path.parent / "world.json"
    if not record.is_file():
        return
    try:
        world = json.loads(record.read_text(encoding="utf-8"))
        expected = world["files"][path.name]["sha256"]
    except (ValueError, KeyError, TypeError):
        return  # not a microworld record for this file
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise UserError(
            f"{path} differs from the sha256 recorded in {record} (edited?): "
            "rebuild it with `valign world build`"
        )
    if path.name == "eval.jsonl" and _current_eval_sha(world.get("config")) not in (None, actual):
        raise UserError(
            f"{path} was built by another version of the microworld's generator: rebuild it "
            "with `valign world build` (or run `valign demo` in a new folder)"
        )


def _current_eval_sha(config: Any) -> str | None:
    """The sha256 this valign's generator gives the eval split of ``config`` (None: unknown)."""
    from valign.world.splits import microworld_eval_episodes

    try:
        seed, per_kind = int(config["seed"]), int(config["eval_per_kind"])
    except (KeyError, TypeError, ValueError):
        return None
    return tasks_sha256([ep.item for ep in microworld_eval_episodes(seed, per_kind)])


def _check_resume(out: Path, wanted: dict[str, Any], restart: bool) -> None:
    """Refuse to append replies made under other settings to ``out/responses.jsonl``."""
    responses, saved_file = out / "responses.jsonl", out / SETTINGS_FILE
    if restart:
        responses.unlink(missing_ok=True)
    elif responses.is_file() and responses.stat().st_size > 0:
        saved: dict[str, Any] = {}
        if saved_file.is_file():
            saved = json.loads(saved_file.read_text(encoding="utf-8"))
        diff = [k for k in wanted if saved.get(k) != wanted[k]]
        if diff:
            fields = ", ".join(f"{k} {saved.get(k)!r} (now {wanted[k]!r})" for k in diff)
            raise UserError(
                f"{out} holds replies made with other settings: {fields}; "
                "pass --restart to start over, or choose another --out"
            )
    atomic_write_json(saved_file, wanted)


def run_eval(
    settings: EvalSettings,
    out: Path,
    console: Console | None = None,
    model: Any = None,
    constitution: Constitution | None = None,
) -> dict[str, Any]:
    """Evaluate and return the scorecard dict (also written to ``out/scorecard.json``).

    ``constitution``, when given, is the one already resolved from ``settings.constitution``
    and ``settings.overlays`` (a pipeline stage's); otherwise they are loaded here."""
    # Cheap checks first: a bad task file or a missing model fails before any work.
    if settings.tasks:
        check_world_split(Path(settings.tasks))
        items = load_items(settings.tasks)
        source = settings.tasks
    else:
        items = microworld_eval_items(settings.seed)
        source = f"microworld eval split, seed {settings.seed}"
    if settings.limit > 0:
        items = items[: settings.limit]
    task_set = {"source": source, "sha256": tasks_sha256(items), "n": len(items)}
    wanted = {k: getattr(settings, k) for k in REPLY_FIELDS} | {"tasks_sha256": task_set["sha256"]}
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, wanted, settings.restart)
    if constitution is None:
        constitution = load_composed(settings.constitution, settings.overlays)
    judge, grader = make_judge(settings.judge, refusals=[constitution.refusal_message])
    if model is None:
        kw = {"tokenizer": settings.tokenizer} if settings.tokenizer else {}
        model = load_model(settings.model, **kw)
    score_choices = getattr(model, "tokenizer", True) is not None
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
            score_choices=score_choices,
            judge=judge,
        )
    card = compute_scorecard(records, constitution)
    card["model"] = settings.model
    card["tasks"] = task_set
    card["grader"] = grader
    if not score_choices:
        card["notes"] = [
            "multiple-choice items were not scored by log-probability: the endpoint has no "
            "tokenizer (pass --tokenizer)"
        ]
    atomic_write_json(out / "scorecard.json", card)
    atomic_write_json(out / "manifest.json", manifest("eval", settings, settings.seed))
    if isinstance(settings.model, str) and Path(settings.model).is_dir():
        # A model valign trained carries a card: its Evaluation section gets this scorecard.
        record_scorecard(Path(settings.model), card, constitution.name)
    return card
