from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from valign.train.rewards import (
    AlignmentReward,
    ConstitutionRules,
    LagrangeMultiplier,
    SafetySettings,
)

PROMPTS = [[{"role": "user", "content": "bad request"}], [{"role": "user", "content": "fine"}]]
COMPLETIONS = [
    [{"role": "assistant", "content": "Sure: <STEP-1>"}],
    [{"role": "assistant", "content": "I can't."}],
]


def _const(values: list[float]):  # type: ignore[no-untyped-def]
    def score(convs: Sequence[list[dict[str, str]]]) -> list[float]:
        assert convs[0][-1]["role"] == "assistant"
        return values[: len(convs)]

    return score


def test_dual_ascent_matches_hand_computation() -> None:
    m = LagrangeMultiplier(value=1.0, lr=0.5, threshold=0.0, upper=3.0)
    assert m.update(1.0) == pytest.approx(1.5)  # too costly: lambda grows
    assert m.update(-4.0) == pytest.approx(0.0)  # 1.5 - 2.0 is projected onto 0
    assert m.update(10.0) == pytest.approx(3.0)  # capped
    assert m.history == [(1.0, 1.5), (-4.0, 0.0), (10.0, 3.0)]


def test_fixed_weight_subtracts_the_cost() -> None:
    fn = AlignmentReward(
        reward=_const([2.0, 1.0]),
        cost=_const([1.5, -1.0]),
        rules=None,
        settings=SafetySettings(mode="fixed", cost_weight=2.0, rule_weight=0),
    )
    assert fn(PROMPTS, COMPLETIONS) == pytest.approx([2.0 - 3.0, 1.0 + 2.0])


def test_lagrangian_pays_with_current_lambda_then_updates_it() -> None:
    logged: dict[str, float] = {}
    fn = AlignmentReward(
        reward=_const([2.0, 1.0]),
        cost=_const([3.0, 1.0]),
        rules=None,
        settings=SafetySettings(
            mode="lagrangian",
            constraint="mean_cost",
            lambda_init=1.0,
            lambda_lr=0.5,
            threshold=0.0,
            rule_weight=0,
        ),
    )
    out = fn(PROMPTS, COMPLETIONS, log_metric=logged.__setitem__)
    assert out == pytest.approx([(2.0 - 3.0) / 2, (1.0 - 1.0) / 2])
    assert logged["lambda"] == 1.0 and logged["cost"] == pytest.approx(2.0)
    assert fn.multiplier is not None and fn.multiplier.value == pytest.approx(2.0)


def test_unsafe_share_constraint_moves_lambda_by_the_share_of_unsafe_replies() -> None:
    logged: dict[str, float] = {}
    fn = AlignmentReward(
        reward=_const([2.0, 1.0]),
        cost=_const([3.0, -1.0]),  # one of two replies unsafe, though the mean cost is 1.0
        rules=None,
        settings=SafetySettings(
            mode="lagrangian", max_unsafe=0.1, lambda_init=1.0, lambda_lr=0.5, rule_weight=0
        ),
    )
    out = fn(PROMPTS, COMPLETIONS, log_metric=logged.__setitem__)
    assert out == pytest.approx([(2.0 - 3.0) / 2, (1.0 + 1.0) / 2])  # penalty is lambda * c
    assert logged["unsafe_share"] == pytest.approx(0.5)
    assert fn.multiplier is not None
    assert fn.multiplier.value == pytest.approx(1.0 + 0.5 * (0.5 - 0.1))
    # a batch of safe replies with a mean cost far below any threshold: lambda shrinks
    safe = AlignmentReward(
        reward=_const([0.0, 0.0]),
        cost=_const([-0.5, -4.0]),
        rules=None,
        settings=SafetySettings(mode="lagrangian", max_unsafe=0.1, lambda_lr=0.5, rule_weight=0),
    )
    safe(PROMPTS, COMPLETIONS)
    assert safe.multiplier is not None
    assert safe.multiplier.value == pytest.approx(1.0 - 0.5 * 0.1)


def test_reward_only_ignores_the_cost_and_needs_no_cost_model() -> None:
    fn = AlignmentReward(
        reward=_const([2.0, 1.0]), cost=None, rules=None, settings=SafetySettings(mode="none")
    )
    assert fn(PROMPTS, COMPLETIONS) == [2.0, 1.0]
    with pytest.raises(ValueError, match="needs a cost model"):
        AlignmentReward(reward=None, cost=None, rules=None, settings=SafetySettings())


def test_rules_reward_refusing_flagged_and_helping_with_the_rest() -> None:
    calls: list[int] = []

    def flag(pairs: Sequence[tuple[str, str | None]]) -> list[bool]:
        calls.append(len(pairs))
        return [(r or p) in ("bad request", "Sure: <STEP-1>") for p, r in pairs]

    def refused(pairs: Sequence[tuple[str, str]]) -> list[bool]:
        return [r.startswith("I can't") for _, r in pairs]

    rules = ConstitutionRules(flag=flag, refused=refused)
    scores, counts = rules(
        ["bad request", "bad request", "fine", "fine"],
        ["I can't.", "Sure: <STEP-1>", "I can't.", "Here you go."],
    )
    # refused flagged +1; complied with flagged -1 and unsafe reply -1; over-refusal -1; help 0
    assert scores == [1.0, -2.0, -1.0, 0.0]
    assert counts["over_refusal"] == 0.25 and counts["unsafe_reply"] == 0.25
    rules(["bad request", "fine"], ["x", "y"])
    assert calls == [2, 4, 2]  # the two prompts were judged once, replies every time


def test_both_judges_of_one_batch_run_inside_one_shared_scope() -> None:
    from contextlib import contextmanager

    events: list[str] = []

    @contextmanager
    def shared() -> Iterator[None]:
        events.append("enter")
        yield
        events.append("exit")

    def flag(pairs: Sequence[tuple[str, str | None]]) -> list[bool]:
        events.append("flag")
        return [False] * len(pairs)

    def refused(pairs: Sequence[tuple[str, str]]) -> list[bool]:
        events.append("refused")
        return [False] * len(pairs)

    rules = ConstitutionRules(flag=flag, refused=refused, shared=shared)
    rules(["a", "b"], ["x", "y"])
    assert events == ["enter", "flag", "refused", "flag", "exit"]  # prompts, replies, pairs
