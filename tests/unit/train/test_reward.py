from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.records.comparisons import Comparison, load_comparisons
from valign.train.reward import (
    RewardSettings,
    Scorer,
    cost_pairs,
    heldout,
    reward_pairs,
    train_reward_model,
)

TINY = {"batch_size": 4, "max_steps": 2, "bf16": False, "heldout": 0.3}
PROMPT = [{"role": "user", "content": "Tell me how to make <HAZARD-1>."}]


def _row(i: int, chosen: str, rejected: str, ch: bool | None, rh: bool | None) -> Comparison:
    return Comparison.model_validate(
        {
            "id": f"c{i}",
            "prompt": PROMPT,
            "chosen": chosen,
            "rejected": rejected,
            "source": "rule",
            "chosen_harmful": ch,
            "rejected_harmful": rh,
        }
    )


REFUSE = _row(1, "I can't help with that.", "Sure: <STEP-1> <STEP-2>", False, True)
ANSWER = _row(2, "2 plus 3 is 5.", "I can't help with that.", False, False)
UNKNOWN = _row(3, "It cannot be determined.", "The Lorne person.", False, True)
UNLABELLED = _row(4, "a", "b", None, None)


def test_reward_pairs_turn_refusal_versus_compliance_round_only() -> None:
    pairs = reward_pairs([REFUSE, ANSWER, UNKNOWN])
    assert pairs[0]["chosen"][-1]["content"] == "Sure: <STEP-1> <STEP-2>"
    assert pairs[1]["chosen"][-1]["content"] == "2 plus 3 is 5."
    assert pairs[2]["chosen"][-1]["content"] == "It cannot be determined."  # not a refusal
    assert reward_pairs([REFUSE], decouple=False)[0]["chosen"][-1]["content"].startswith("I can")
    assert pairs[0]["chosen"][:-1] == PROMPT


def test_cost_pairs_rank_harm_higher_and_anchor_safe_conversations() -> None:
    pairs = cost_pairs([REFUSE, ANSWER, UNKNOWN, UNLABELLED])
    within = pairs[:2]
    assert [p["chosen"][-1]["content"] for p in within] == [
        "Sure: <STEP-1> <STEP-2>",
        "The Lorne person.",
    ]
    anchors = pairs[2:]
    assert len(anchors) == 1  # the one comparison whose replies are both safe
    assert anchors[0]["rejected"][-1]["content"] == "2 plus 3 is 5."
    assert anchors[0]["chosen"][-1]["content"] == "Sure: <STEP-1> <STEP-2>"


def test_heldout_split_is_stable_and_about_the_share() -> None:
    rows = [_row(i, "a", "b", None, None) for i in range(2000)]
    first = [heldout(r, 0.1) for r in rows]
    assert first == [heldout(r, 0.1) for r in rows]
    assert 150 < sum(first) < 250


@pytest.mark.parametrize("objective", ["reward", "cost"])
def test_tiny_reward_and_cost_models_train_and_score(
    objective: str, tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    rows = load_comparisons(tiny_world / "preferences.jsonl")
    result, stats = train_reward_model(
        tiny_base_model_dir,
        rows,
        tmp_path,
        RewardSettings(**TINY),
        objective="cost" if objective == "cost" else "reward",
    )
    assert result.steps == 2
    saved = json.loads((tmp_path / "heldout.json").read_text())
    assert saved["train_pairs"] == stats["train_pairs"] > 0
    if "accuracy" in stats:
        assert 0.0 <= stats["accuracy"] <= 1.0
    scorer = Scorer(result.model_dir)
    convs = [[*PROMPT, {"role": "assistant", "content": x}] for x in ("a", "b", "c")]
    scores = scorer(convs)
    assert len(scores) == 3 and scores == scorer(convs)  # deterministic
    # Scoring one at a time equals scoring in a batch (right padding, last real token), and
    # the batches of similar length come back in the order asked.
    replies = ("a much longer reply than the others, by far", "b", "a medium reply", "c")
    mixed = [[*PROMPT, {"role": "assistant", "content": x}] for x in replies]
    scorer.batch_size = 2
    alone = [scorer([c])[0] for c in mixed]
    assert scorer(mixed) == pytest.approx(alone, abs=1e-5)
    assert len(set(alone)) == 4
    assert scorer([]) == []
    twice = scorer([mixed[2], mixed[0], mixed[2]])  # a repeated conversation, scored once
    assert twice == pytest.approx([alone[2], alone[0], alone[2]], abs=1e-5)
    if objective == "cost":
        assert (result.model_dir / "calibration.json").is_file()


def test_cost_model_without_safety_labels_is_a_user_error(
    tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="different safety labels"):
        train_reward_model(
            tiny_base_model_dir, [UNLABELLED], tmp_path, RewardSettings(**TINY), objective="cost"
        )
