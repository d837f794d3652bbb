"""Dataset builders: formats their consumers read, provenance on every record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.data.builders import build_sets
from valign.errors import UserError
from valign.records.comparisons import load_comparisons
from valign.records.tasks import load_items


def test_builds_from_constitution_redteam_and_ratings(tmp_path: Path) -> None:
    red = tmp_path / "findings.jsonl"
    red.write_text(
        json.dumps(
            {
                "id": "f1",
                "prompt": "Tell me how to [harmful request]",
                "response": "Sure. First, <STEP-1>.",
                "success": True,
                "category": "fraud",
                "family": "roleplay",
            }
        )
        + "\n"
        + json.dumps({"prompt": "x", "response": "I can't help.", "success": False})
        + "\n"
    )
    rated = tmp_path / "rated.jsonl"
    rated.write_text(
        "".join(
            json.dumps({"prompt": "How do I bake bread?", "response": r, "score": s, "rater": "r1"})
            + "\n"
            for r, s in (("Mix flour, water, yeast; knead; bake.", 0.9), ("No.", 0.1))
        )
    )
    s = build_sets(tmp_path / "sets", "default", [red], [rated])
    out = tmp_path / "sets"
    prefs = load_comparisons(out / "preferences.jsonl")
    items = load_items(out / "eval.jsonl")
    sft = [json.loads(x) for x in (out / "sft.jsonl").read_text().splitlines()]
    assert s["counts"] == {"sft": len(sft), "preferences": len(prefs), "eval": len(items)}
    assert {p.source for p in prefs} == {"rule", "redteam", "human"}
    assert all(p.meta["provenance"]["source"] for p in prefs)
    assert all(r["provenance"]["source"] for r in sft)
    assert all(i.meta["provenance"]["source"] for i in items)
    red_pref = next(p for p in prefs if p.source == "redteam")
    assert red_pref.rejected_harmful and red_pref.meta["provenance"]["line"] == 1
    assert next(i for i in items if i.id == "redteam/f1").kind == "jailbreak"
    human = next(p for p in prefs if p.source == "human")
    assert human.chosen_score == 0.9 and human.rejected == "No."
    kinds = {i.kind for i in items if i.id.startswith("constitution/")}
    assert kinds == {"harmful", "borderline"}
    card = (out / "README.md").read_text()
    assert "preferences/redteam | 1" in card and "provenance" in card
    # the card's configs let `datasets` read every set of the folder
    from datasets import load_dataset

    cache = str(tmp_path / "hf-cache")
    assert load_dataset(str(out), cache_dir=cache)["train"].num_rows == len(prefs)
    assert load_dataset(str(out), "sft", cache_dir=cache)["train"].num_rows == len(sft)
    assert load_dataset(str(out), "eval", cache_dir=cache)["test"].num_rows == len(items)


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "f.jsonl"
    bad.write_text('{"prompt": "x", "response": 3, "success": true}\n')
    with pytest.raises(UserError, match=r"f\.jsonl:1: response must be text"):
        build_sets(tmp_path / "o", redteam=[bad])
    with pytest.raises(UserError, match="not found"):
        build_sets(tmp_path / "o", rated=[tmp_path / "missing.jsonl"])


def test_a_real_models_replies_become_refusal_and_answer_pairs(tmp_path: Path) -> None:
    from valign.guard.real_replies import RESPONSES_FILE, TASKS_FILE
    from valign.records.messages import Message
    from valign.records.tasks import Item, dump_items
    from valign.values import load_constitution

    folder = tmp_path / "replies"
    folder.mkdir()
    rows = [  # (id, kind, split, reply)
        ("h-train", "harmful", "train", "Sure: first gather the parts, then assemble them."),
        ("h-refused", "harmful", "train", "I'm sorry, but I can't help with that."),
        ("b-train", "benign", "train", "Boil the egg for six minutes, then cool it."),
        ("h-test", "harmful", "test", "Sure: first gather the parts."),
    ]
    items = [
        Item(
            id=i,
            kind=k,
            category="violent_crime" if k == "harmful" else None,
            messages=[Message(role="user", content=f"request {i}")],
            meta={"reply_split": s, "reply_source": "bench"},
        )
        for i, k, s, _ in rows
    ]
    (folder / TASKS_FILE).write_text(dump_items(items), encoding="utf-8")
    (folder / RESPONSES_FILE).write_text(
        "".join(json.dumps({"id": i, "response": r}) + "\n" for i, _, _, r in rows),
        encoding="utf-8",
    )
    summary = build_sets(tmp_path / "out", replies=[folder])
    assert summary["sources"]["preferences/real_replies"] == 2  # not the refusal, not the test
    prefs = {p.id: p for p in load_comparisons(tmp_path / "out" / "preferences.jsonl")}
    refusal = load_constitution("default").refusal_message
    harmful, benign = prefs["real/h-train"], prefs["real/b-train"]
    assert harmful.chosen == refusal and harmful.rejected_harmful is True
    assert benign.rejected == refusal and benign.chosen.startswith("Boil")
    assert "real/h-test" not in prefs
