"""Recorded replies graded again, directly or through a guard.

A scorecard keeps every reply it graded (``responses.jsonl``); with greedy decoding those
are the replies the model would give again. :func:`replayed` plays them back to a judge,
optionally through a guard on inputs and outputs, without loading the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from valign.evals.runner import evaluate_items
from valign.guard.guarded import GuardedChatModel
from valign.guard.replay import ReplayModel
from valign.models import GenerationConfig
from valign.records.tasks import Item


def replayed(
    responses: Path,
    name: str,
    items: list[Item],
    path: Path,
    judge: Any,
    max_new_tokens: int,
    guard: Any = None,
    refusal_message: str | None = None,
) -> list[dict[str, Any]]:
    """The ``name`` model's recorded replies (``responses``) to ``items``, graded again by
    ``judge`` into ``path``; through ``guard`` (inputs and outputs, a blocked turn answered
    with ``refusal_message``) when one is given."""
    replay = ReplayModel.from_records(items, responses, name)
    gen = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)
    if guard is None:
        return evaluate_items(replay, items, path, gen, judge=judge, score_choices=False)
    log = path.with_name(f"decisions-{path.name}")
    with GuardedChatModel(replay, guard, refusal_message=refusal_message, log=log) as guarded:
        return evaluate_items(guarded, items, path, gen, judge=judge, score_choices=False)
