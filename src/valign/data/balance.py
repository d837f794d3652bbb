"""Balancing the demonstrations built from a model's own replies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from valign.guard.real_replies import HARMFUL_KINDS
from valign.records.runs import atomic_write_text
from valign.records.tasks import load_items


def balance_borderline(sft: Path, replies: Path, ratio: float) -> dict[str, int]:
    """Repeat the demonstrations that answer a borderline (sensitive but safe) request until
    they number about ``ratio`` times the refusal demonstrations.

    The refusals are new text for the model and carry most of the gradient; its own answers
    to sensitive-but-safe requests, which look like harmful ones, carry little until it
    starts refusing them. Without the balance a refusal-heavy mixture teaches it to refuse
    those too (exaggerated safety). Returns the counts and the repeat factor.
    """
    kinds = {it.id: it.kind for it in load_items(replies / "tasks.jsonl")}
    rows = [json.loads(line) for line in sft.read_text("utf-8").splitlines() if line.strip()]

    def kind(row: dict[str, Any]) -> str | None:
        return kinds.get(str(row.get("provenance", {}).get("item")))

    refusals = sum(kind(r) in HARMFUL_KINDS for r in rows)
    safe = [r for r in rows if kind(r) == "borderline"]
    repeat = max(1, round(ratio * refusals / len(safe))) if safe and ratio > 0 else 1
    extra = [{**r, "id": f"{r['id']}#{k}"} for r in safe for k in range(1, repeat)]
    if extra:
        text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in extra)
        atomic_write_text(sft, sft.read_text("utf-8") + text)
    return {"refusals": refusals, "borderline": len(safe), "repeat": repeat}
