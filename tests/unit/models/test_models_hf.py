"""HFChatModel: generation (batching, order, sampling, stops) and continuation scoring."""

from __future__ import annotations

import pytest
import torch
from models_testkit import DIALOGUES

from valign.models import ChatModel, ContinuationScore, GenerationConfig, HFChatModel
from valign.models.chat import continuation_ids, encode, render_prompt

CONVS = [[{"role": "user", "content": q}] for q, _ in DIALOGUES]
ANSWERS = [a for _, a in DIALOGUES]


def test_is_a_chat_model(tiny_hf: HFChatModel) -> None:
    assert isinstance(tiny_hf, ChatModel)
    assert tiny_hf.name == "tiny"
    assert tiny_hf.device.type == "cpu"
    assert tiny_hf.model.dtype == torch.float32
    assert not tiny_hf.model.training


def test_greedy_replies_are_the_learned_answers(tiny_hf: HFChatModel) -> None:
    out = tiny_hf.generate(CONVS, GenerationConfig(max_new_tokens=24))
    assert out == ANSWERS


def test_batched_generation_equals_unbatched_and_keeps_order(tiny_hf: HFChatModel) -> None:
    # Prompts of different lengths in one batch exercise the left padding.
    convs = [CONVS[i] for i in (3, 0, 5, 1, 4, 2, 0)]
    batched = tiny_hf.generate(convs, GenerationConfig(max_new_tokens=24, batch_size=16))
    one_by_one = tiny_hf.generate(convs, GenerationConfig(max_new_tokens=24, batch_size=1))
    in_threes = tiny_hf.generate(convs, GenerationConfig(max_new_tokens=24, batch_size=3))
    assert batched == one_by_one == in_threes
    assert batched == [ANSWERS[i] for i in (3, 0, 5, 1, 4, 2, 0)]


def test_multi_turn_and_system_messages_are_accepted(tiny_hf: HFChatModel) -> None:
    conv = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "world"},
        {"role": "user", "content": "count"},
    ]
    (out,) = tiny_hf.generate([conv], GenerationConfig(max_new_tokens=4))
    assert isinstance(out, str)


def test_sampling_is_reproducible_with_the_same_seed(tiny_hf: HFChatModel) -> None:
    cfg = GenerationConfig(max_new_tokens=12, temperature=3.0, seed=7)
    rng_before = torch.get_rng_state()
    first = tiny_hf.generate(CONVS, cfg)
    assert torch.equal(torch.get_rng_state(), rng_before), "global RNG must be left alone"
    assert tiny_hf.generate(CONVS, cfg) == first
    others = [
        tiny_hf.generate(CONVS, GenerationConfig(max_new_tokens=12, temperature=3.0, seed=s))
        for s in (8, 9)
    ]
    assert any(o != first for o in others)


def test_stop_strings_cut_the_reply(tiny_hf: HFChatModel) -> None:
    count = [CONVS[3]]
    assert tiny_hf.generate(count, GenerationConfig(stop=(" four",))) == ["one two three"]
    # A stop string need not fall on a token boundary; the earliest of several wins.
    assert tiny_hf.generate(count, GenerationConfig(stop=("ee", "hre"))) == ["one two t"]
    # Batched rows with and without a stop string.
    out = tiny_hf.generate(CONVS, GenerationConfig(max_new_tokens=24, stop=(" is",)))
    assert out[2] == "the sky" and out[0] == "world" and out[3] == ANSWERS[3]


def test_max_new_tokens_bounds_the_reply(tiny_hf: HFChatModel) -> None:
    (short,) = tiny_hf.generate([CONVS[3]], GenerationConfig(max_new_tokens=2))
    assert ANSWERS[3].startswith(short) and len(short) < len(ANSWERS[3])


def test_generation_config_validates() -> None:
    with pytest.raises(ValueError):
        GenerationConfig(temperature=-1)
    with pytest.raises(ValueError):
        GenerationConfig(top_p=0)
    with pytest.raises(ValueError):
        GenerationConfig(max_new_tokens=0)
    assert GenerationConfig().greedy and not GenerationConfig(temperature=0.5).greedy


def _manual_logprob(hf: HFChatModel, conv: list[dict[str, str]], cont: str) -> tuple[float, int]:
    """Reference: one unpadded forward pass over prompt + continuation."""
    text = render_prompt(hf.tokenizer, conv)
    prompt = encode(hf.tokenizer, text)
    cont_ids = continuation_ids(hf.tokenizer, text, prompt, cont)
    ids = torch.tensor([prompt + cont_ids])  # (1, seq)
    with torch.no_grad():
        logits = hf.model(input_ids=ids).logits[0]  # (seq, vocab)
    logprobs = torch.log_softmax(logits, dim=-1)
    total = sum(float(logprobs[len(prompt) + k - 1, t]) for k, t in enumerate(cont_ids))
    return total, len(cont_ids)


def test_continuation_logprobs_match_a_manual_forward_pass(tiny_hf: HFChatModel) -> None:
    conts = ["world", "the sky is", "one two three four", "an", "blue", "i am fine"]
    convs = CONVS[: len(conts)]
    scores = tiny_hf.continuation_logprobs(convs, conts)
    for conv, cont, score in zip(convs, conts, scores, strict=True):
        expected, n = _manual_logprob(tiny_hf, conv, cont)
        assert score.n_tokens == n > 0
        assert score.logprob == pytest.approx(expected, abs=1e-4)


def test_likelier_continuation_scores_higher(tiny_hf: HFChatModel) -> None:
    hello = CONVS[0]
    right, wrong = tiny_hf.continuation_logprobs([hello, hello], ["world", "an apple"])
    assert right.logprob > wrong.logprob
    assert right.mean_logprob > wrong.mean_logprob
    assert right.logprob > -1.0


def test_batched_scores_equal_single_scores(tiny_hf: HFChatModel) -> None:
    convs = [CONVS[i % len(CONVS)] for i in range(9)]
    conts = [ANSWERS[(i + 1) % len(ANSWERS)][: 3 + 4 * i] for i in range(9)]
    together = tiny_hf.continuation_logprobs(convs, conts)
    alone = [tiny_hf.continuation_logprobs([c], [t])[0] for c, t in zip(convs, conts, strict=True)]
    for a, b in zip(together, alone, strict=True):
        assert a.n_tokens == b.n_tokens
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)


def test_empty_continuation_scores_zero(tiny_hf: HFChatModel) -> None:
    assert tiny_hf.continuation_logprobs([CONVS[0]], [""]) == [ContinuationScore(0.0, 0)]


def test_mismatched_lengths_are_rejected(tiny_hf: HFChatModel) -> None:
    with pytest.raises(ValueError):
        tiny_hf.continuation_logprobs(CONVS[:2], ["a"])


def test_from_model_wraps_a_model_in_memory_and_restores_its_mode(tiny_hf: HFChatModel) -> None:
    wrapped = HFChatModel.from_model(tiny_hf.model, tiny_hf.tokenizer, name="policy")
    tiny_hf.model.train()
    try:
        assert wrapped.generate([CONVS[0]], GenerationConfig(max_new_tokens=4)) == ["world"]
        assert tiny_hf.model.training
    finally:
        tiny_hf.model.eval()
