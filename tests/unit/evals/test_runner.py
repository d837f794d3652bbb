"""The evaluation runner with a deterministic fake model: records, resume, MC log-probs."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from valign.evals.runner import evaluate_items
from valign.evals.scorecard import compute_scorecard
from valign.models.types import ChatModel, ContinuationScore, GenerationConfig
from valign.records.messages import Conversation
from valign.records.tasks import KINDS, Item
from valign.world.generate import Episode, Generator
from valign.world.lexicon import build_lexicon

GEN = GenerationConfig(max_new_tokens=8, batch_size=4)


class FakeModel:
    """Answers from a table keyed by the last user turn; unknown prompts get a refusal.

    A continuation's log-probability is minus its length in characters, so shorter choices
    are preferred, deterministically.
    """

    name = "fake"

    def __init__(self, replies: dict[str, str], fail_on_call: int | None = None) -> None:
        self.replies = replies
        self.fail_on_call = fail_on_call
        self.generate_calls = 0
        self.generated: list[str] = []
        self.scored: list[tuple[Conversation, str]] = []
        self.configs: list[GenerationConfig] = []

    def generate(
        self, convs: Sequence[Conversation], config: GenerationConfig, progress: bool = False
    ) -> list[str]:
        self.generate_calls += 1
        if self.generate_calls == self.fail_on_call:
            raise RuntimeError("the server went away")
        self.configs.append(config)
        out = []
        for conv in convs:
            user = conv[-1]["content"]
            self.generated.append(user)
            out.append(self.replies.get(user, "I can't help with that."))
        return out

    def continuation_logprobs(
        self, convs: Sequence[Conversation], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        self.scored += list(zip(convs, continuations, strict=True))
        return [ContinuationScore(-float(len(c)), len(c.split())) for c in continuations]


def _episodes(per_kind: int = 3) -> list[Episode]:
    gen = Generator(build_lexicon(0), "eval", random.Random(1))
    return [getattr(gen, kind)() for kind in KINDS for _ in range(per_kind)]


def _aligned_model(episodes: list[Episode], **kw: Any) -> FakeModel:
    return FakeModel({ep.item.messages[-1]["content"]: ep.good for ep in episodes}, **kw)


@pytest.fixture
def episodes() -> list[Episode]:
    return _episodes()


@pytest.fixture
def items(episodes: list[Episode]) -> list[Item]:
    return [ep.item for ep in episodes]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_fake_model_is_a_chat_model() -> None:
    assert isinstance(FakeModel({}), ChatModel)


def test_records_are_written_and_graded(
    tmp_path: Path, episodes: list[Episode], items: list[Item]
) -> None:
    out = tmp_path / "eval" / "responses.jsonl"
    model = _aligned_model(episodes)
    records = evaluate_items(model, items, out, generation=GEN, chunk=5)
    assert [r["id"] for r in records] == [it.id for it in items]
    assert _lines(out) == records  # one line per item, in order
    assert model.generate_calls == 5  # 21 items in chunks of 5
    assert model.configs == [GEN] * 5
    by_kind = {r["kind"]: r for r in records}
    assert by_kind["harmful"]["outcome"] == "refused"
    assert by_kind["jailbreak"]["outcome"] == "refused"
    assert by_kind["benign"]["outcome"] == "correct"
    assert by_kind["misconception"]["outcome"] == "truthful"
    assert by_kind["agentic"]["outcome"] == "sanctioned"
    for r, it in zip(records, items, strict=True):
        assert r["kind"] == it.kind and r["category"] == it.category
        assert r["family"] == it.family and r["context"] == it.context
        assert r["template"] == it.template
        assert r["correct_choice"] == it.correct
        assert r["labels"] == (it.choice_labels or None)
        assert set(r) >= {"response", "outcome", "refused", "correct", "choice"}


def test_refusing_model_on_harmful_items(tmp_path: Path, items: list[Item]) -> None:
    records = evaluate_items(FakeModel({}), items, tmp_path / "r.jsonl", generation=GEN)
    harmful = [r for r in records if r["kind"] in ("harmful", "jailbreak")]
    assert harmful and all(r["outcome"] == "refused" and r["refused"] for r in harmful)
    card = compute_scorecard(records)
    assert card["metrics"]["harmful_compliance"]["value"] == 0.0
    assert card["metrics"]["over_refusal"]["value"] == 1.0


def test_resume_skips_done_items(
    tmp_path: Path, episodes: list[Episode], items: list[Item]
) -> None:
    out = tmp_path / "r.jsonl"
    first = _aligned_model(episodes)
    evaluate_items(first, items[:8], out, generation=GEN, chunk=3)
    assert len(first.generated) == 8

    again = _aligned_model(episodes)
    progress: list[tuple[int, int]] = []
    records = evaluate_items(
        again, items, out, generation=GEN, chunk=5, on_progress=lambda d, t: progress.append((d, t))
    )
    rest = [it.messages[-1]["content"] for it in items[8:]]
    assert again.generated == rest  # only the items not yet recorded
    assert again.generate_calls == 3  # 13 left, in chunks of 5
    assert progress == [(8, 21), (13, 21), (18, 21), (21, 21)]
    assert [r["id"] for r in records] == [it.id for it in items]
    assert len(_lines(out)) == len(items)

    done = _aligned_model(episodes)
    assert evaluate_items(done, items, out, generation=GEN) == records
    assert done.generate_calls == 0 and done.scored == []


def test_interrupted_run_keeps_finished_chunks(
    tmp_path: Path, episodes: list[Episode], items: list[Item]
) -> None:
    out = tmp_path / "r.jsonl"
    with pytest.raises(RuntimeError):
        evaluate_items(_aligned_model(episodes, fail_on_call=3), items, out, GEN, chunk=4)
    assert len(_lines(out)) == 8  # the first two chunks were written before the failure
    model = _aligned_model(episodes)
    records = evaluate_items(model, items, out, GEN, chunk=4)
    assert len(model.generated) == len(items) - 8
    assert [r["id"] for r in records] == [it.id for it in items]


def test_returns_only_the_requested_items_in_their_order(
    tmp_path: Path, episodes: list[Episode], items: list[Item]
) -> None:
    out = tmp_path / "r.jsonl"
    evaluate_items(_aligned_model(episodes), items, out, GEN)
    subset = list(reversed(items[3:9]))
    model = _aligned_model(episodes)
    records = evaluate_items(model, subset, out, GEN)
    assert [r["id"] for r in records] == [it.id for it in subset]
    assert model.generate_calls == 0


def test_mc_logprobs_recorded_for_misconception_and_bias_items(
    tmp_path: Path, episodes: list[Episode], items: list[Item]
) -> None:
    model = _aligned_model(episodes)
    records = evaluate_items(model, items, tmp_path / "r.jsonl", GEN)
    mc_items = [it for it in items if it.kind in ("misconception", "bias")]
    assert any(it.kind == "bias" for it in mc_items)
    assert len(model.scored) == sum(len(it.choices) for it in mc_items)
    by_id = {r["id"]: r for r in records}
    for it in mc_items:
        r = by_id[it.id]
        assert r["choice_logprobs"] == [-float(len(c)) for c in it.choices]
        assert r["labels"] == it.choice_labels
        assert r["correct_choice"] == it.correct
        assert (it.prompt(), it.choices[0]) in model.scored
    for r in records:  # agentic items have choices but are graded on generation only
        if r["kind"] not in ("misconception", "bias"):
            assert "choice_logprobs" not in r
    card = compute_scorecard(records)
    n_bias = sum(it.kind == "bias" for it in mc_items)
    assert card["metrics"]["truthfulness_mc1"]["n"] == len(mc_items) - n_bias
    assert card["metrics"]["bias_mc_accuracy"]["n"] == n_bias
    assert card["metrics"]["truthfulness_gen"]["value"] == 1.0


def test_no_items(tmp_path: Path) -> None:
    model = FakeModel({})
    assert evaluate_items(model, [], tmp_path / "r.jsonl", GEN) == []
    assert model.generate_calls == 0
