from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from valign.errors import UserError
from valign.records.comparisons import load_comparisons
from valign.train import align as align_mod
from valign.train.align import AlignConfig, run_align


def _cfg(tiny_world: Path, **over: Any) -> AlignConfig:
    tiny = {"batch_size": 4, "max_steps": 1, "bf16": False}
    return AlignConfig.model_validate(
        {
            "sft": tiny,
            "reward": {**tiny, "heldout": 0.0},
            "cost": {**tiny, "heldout": 0.0},
            "dpo": tiny,
            "rl": {
                **tiny,
                "num_generations": 2,
                "max_completion_length": 8,
                "safety": {"rule_weight": 0},
            },
            "samples_per_round": 8,
            "eval_tasks": str(tiny_world / "eval.jsonl"),
            "eval_limit": 6,
            "eval_batch_size": 8,
            **over,
        }
    )


def test_two_dpo_rounds_resume_after_a_crash(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _cfg(tiny_world, method="dpo", rounds=2)
    args = (tiny_base_model_dir, tiny_world / "sft.jsonl", tiny_world / "preferences.jsonl")
    real = align_mod.evaluate
    calls: list[Path] = []

    def crash_in_round_two(model: Path, *a: Any) -> dict[str, Any]:
        calls.append(model)
        if "round-2" in str(model):
            raise KeyboardInterrupt
        return real(model, *a)

    monkeypatch.setattr(align_mod, "evaluate", crash_in_round_two)
    with pytest.raises(KeyboardInterrupt):
        run_align(*args, tmp_path, cfg)
    done = {
        str(p.relative_to(tmp_path)): p.stat().st_mtime_ns
        for p in tmp_path.glob("round-*/*/DONE.json")
    }
    assert sorted(done) == [
        "round-1/eval/DONE.json",
        "round-1/policy/DONE.json",
        "round-1/sft/DONE.json",
        "round-2/feedback/DONE.json",
        "round-2/policy/DONE.json",
    ]
    assert not (tmp_path / "round-2" / "eval" / "DONE.json").exists()

    monkeypatch.setattr(align_mod, "evaluate", real)
    cards = run_align(*args, tmp_path, cfg)
    assert list(cards) == ["round-1", "round-2"]
    assert all(c["n_items"] == 6 for c in cards.values())
    for rel, mtime in done.items():  # nothing finished before the crash was redone
        assert (tmp_path / rel).stat().st_mtime_ns == mtime
    feedback = load_comparisons(tmp_path / "round-2" / "feedback" / "comparisons.jsonl")
    assert feedback and all(r.id.startswith("r2-") for r in feedback)
    summary = json.loads((tmp_path / "round-2" / "feedback" / "DONE.json").read_text())
    assert summary["summary"]["comparisons"] == len(feedback)


def test_one_rl_round_trains_reward_cost_and_policy(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    cfg = _cfg(tiny_world, method="rl", rounds=1)
    cards = run_align(tiny_base_model_dir, None, tiny_world / "preferences.jsonl", tmp_path, cfg)
    assert "round-1" in cards
    for step in ("reward", "cost", "policy", "eval"):
        assert (tmp_path / "round-1" / step / "DONE.json").is_file()
    assert not (tmp_path / "round-1" / "sft").exists()
    policy = json.loads((tmp_path / "round-1" / "policy" / "DONE.json").read_text())
    assert "lambda" in policy["summary"]["curves"]


def test_bad_feedback_source_is_a_user_error(tiny_world: Path, tmp_path: Path) -> None:
    cfg = _cfg(tiny_world, feedback="some/file.jsonl")
    with pytest.raises(UserError, match=r"\{round\}"):
        run_align("x", None, tiny_world / "preferences.jsonl", tmp_path, cfg)
