"""Chat formatting helpers: prompt rendering, token alignment at the boundary, stop strings."""

from __future__ import annotations

import pytest

from valign.errors import UserError
from valign.models import HFChatModel
from valign.models.chat import (
    continuation_ids,
    encode,
    prompt_ids,
    render_prompt,
    require_chat_template,
    truncate_at_stop,
)


def test_prompt_ends_with_the_assistant_header(tiny_hf: HFChatModel) -> None:
    text = render_prompt(tiny_hf.tokenizer, [{"role": "user", "content": "hello"}])
    assert text == "<|user|>hello<|end|><|assistant|>"
    ids = prompt_ids(tiny_hf.tokenizer, [{"role": "user", "content": "hello"}])
    assert ids[-1] == tiny_hf.tokenizer.convert_tokens_to_ids("<|assistant|>")


def test_continuation_uses_joint_tokens_when_the_prompt_is_a_prefix(tiny_hf: HFChatModel) -> None:
    tok = tiny_hf.tokenizer
    text = "<|user|>hello<|end|><|assistant|>"
    prompt = encode(tok, text)
    assert (
        continuation_ids(tok, text, prompt, "the sky")
        == encode(tok, text + "the sky")[len(prompt) :]
    )


def test_continuation_is_tokenized_alone_when_the_boundary_merges(tiny_hf: HFChatModel) -> None:
    tok = tiny_hf.tokenizer
    text = "hello wor"  # a template ending in plain text: "wor" + "ld" merges into " world"
    prompt = encode(tok, text)
    joint = encode(tok, text + "ld")
    assert joint[: len(prompt)] != prompt, "precondition: the tokenizer merges at the boundary"
    assert continuation_ids(tok, text, prompt, "ld") == encode(tok, "ld")


def test_empty_continuation_has_no_tokens(tiny_hf: HFChatModel) -> None:
    assert continuation_ids(tiny_hf.tokenizer, "x", [1], "") == []


def test_missing_template_is_a_user_error() -> None:
    class Bare:
        chat_template = None

    with pytest.raises(UserError, match="no chat template"):
        require_chat_template(Bare(), "m")


@pytest.mark.parametrize(
    ("text", "stop", "expected"),
    [
        ("a b c", (), "a b c"),
        ("a b c", ("b",), "a "),
        ("a b c", ("c", "b"), "a "),
        ("a b c", ("",), "a b c"),
        ("a b c", ("z",), "a b c"),
    ],
)
def test_truncate_at_stop(text: str, stop: tuple[str, ...], expected: str) -> None:
    assert truncate_at_stop(text, stop) == expected
