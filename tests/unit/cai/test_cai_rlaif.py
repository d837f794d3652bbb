"""RLAIF: AI labels from policy samples, DPO on them, and online RL on the evaluator's score."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from valign.cai.judge import PairItem, Verdict
from valign.cai.rlaif import rlaif_labels
from valign.cai.sampling import SamplingSettings
from valign.errors import UserError
from valign.models import GenerationConfig
from valign.records.comparisons import Comparison, load_comparisons, write_comparisons


class Cycling:
    """A policy that answers each sample round with the next canned reply."""

    name = "cycling"

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies = list(replies)

    def generate(self, convs, config: GenerationConfig, progress: bool = False) -> list[str]:
        return [self.replies[config.seed % len(self.replies)] for _ in convs]


class PrefersRefusal:
    name = "stub-judge"

    def compare(self, items: Sequence[PairItem]) -> list[Verdict]:
        out = []
        for item in items:
            p = 0.9 if "can't" in item.a else 0.1 if "can't" in item.b else 0.55
            out.append(Verdict(p, "no_harmful_assistance", p, p))
        return out


def test_rlaif_labels_are_ai_comparisons_with_soft_labels(tmp_path: Path) -> None:
    convs = [[{"role": "user", "content": f"request {i}"}] for i in range(3)]
    policy = Cycling(["Sure. First, <STEP-1>.", "I can't help with that.", "Maybe."])
    rows = rlaif_labels(policy, convs, PrefersRefusal(), SamplingSettings(n=3), 0.6)
    assert len(rows) == 3
    for row in rows:
        assert row.source == "ai" and row.rater == "stub-judge"
        assert row.chosen == "I can't help with that."
        assert row.p_chosen == pytest.approx(0.9)
        assert row.principles == ["no_harmful_assistance"]
    write_comparisons(tmp_path / "labels.jsonl", rows)
    assert len(load_comparisons(tmp_path / "labels.jsonl")) == 3
    same = Cycling(["only one reply"])
    assert rlaif_labels(same, convs, PrefersRefusal(), SamplingSettings(n=3)) == []


def test_uncertain_pairs_are_dropped() -> None:
    convs = [[{"role": "user", "content": "q"}]]
    policy = Cycling(["Maybe.", "Perhaps."])
    judge = PrefersRefusal()
    assert rlaif_labels(policy, convs, judge, SamplingSettings(n=2), 0.6) == []
    assert len(rlaif_labels(policy, convs, judge, SamplingSettings(n=2), 0.5)) == 1


def _ai_row(i: int, p: float | None) -> Comparison:
    return Comparison(
        id=f"c{i}",
        prompt=[{"role": "user", "content": f"q{i}"}],
        chosen="I can't help with that.",
        rejected="Sure.",
        source="ai",
        p_chosen=p,
    )


def test_rlaif_dpo_drops_unsure_labels_and_smooths_by_confidence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from valign.cai import rlaif
    from valign.train.dpo import DPOSettings

    seen: dict[str, Any] = {}

    def fake_train(policy: Any, rows: Any, out: Path, s: DPOSettings, on_step: Any = None) -> Any:
        seen.update(rows=[r.id for r in rows], smoothing=s.label_smoothing)
        return "trained"

    monkeypatch.setattr(rlaif, "train_dpo", fake_train)
    rows = [_ai_row(0, 0.55), _ai_row(1, 0.9), _ai_row(2, 0.7), _ai_row(3, None)]
    assert rlaif.rlaif_dpo("m", rows, tmp_path, DPOSettings(), min_confidence=0.6) == "trained"
    assert seen["rows"] == ["c1", "c2", "c3"]  # a hard label (no p_chosen) is sure
    assert seen["smoothing"] == pytest.approx((0.1 + 0.3 + 0.0) / 3, abs=1e-4)
    rlaif.rlaif_dpo("m", rows, tmp_path, DPOSettings(), min_confidence=0.8, soft=False)
    assert seen == {"rows": ["c1", "c3"], "smoothing": 0.0}
    rlaif.rlaif_dpo("m", rows, tmp_path, DPOSettings(label_smoothing=0.2), min_confidence=0.8)
    assert seen["smoothing"] == 0.2  # a share fixed in the settings wins
    with pytest.raises(UserError, match="no comparisons"):
        rlaif.rlaif_dpo("m", rows[:1], tmp_path, DPOSettings(), min_confidence=0.6)


@pytest.mark.slow
def test_direct_rlaif_pays_the_evaluator_score(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    from valign.cai.evaluator import EvaluatorSettings, train_evaluator
    from valign.cai.rlaif import direct_rlaif, evaluator_reward
    from valign.cai.sampling import prompts_from
    from valign.train.rl import RLSettings
    from valign.values import load_constitution

    rows = load_comparisons(tiny_world / "preferences.jsonl")
    ev = train_evaluator(load_constitution("default"), rows, EvaluatorSettings(epochs=3, hidden=16))
    reward = evaluator_reward(ev)
    prompt = [{"role": "user", "content": "hello"}]
    paid = reward([prompt, prompt], [[{"role": "assistant", "content": "hi"}], "hi"])
    assert paid[0] == pytest.approx(paid[1]) and 0.0 <= paid[0] <= 1.0
    s = RLSettings(max_steps=1, batch_size=4, num_generations=2, max_completion_length=8, threads=1)
    result = direct_rlaif(
        tiny_base_model_dir, prompts_from(tiny_world / "sft.jsonl", 4), ev, tmp_path / "rl", s
    )
    assert (result.model_dir / "config.json").is_file()
