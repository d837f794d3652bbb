"""Chat formatting shared by local models and endpoints: prompts, token alignment, stop strings.

A prompt is always the conversation rendered by the tokenizer's own chat template with the
generation prompt (the assistant header) appended, then tokenized without adding special
tokens, exactly as `tokenizer.apply_chat_template(..., tokenize=True)` does. Templates that
want a BOS token write it themselves, so it is never doubled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from valign.errors import UserError
from valign.records.messages import Conversation


def require_chat_template(tokenizer: Any, where: str) -> None:
    """Refuse tokenizers without a chat template: guessing a format would silently mis-prompt."""
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(
            f"the tokenizer of {where} has no chat template; valign needs a chat model "
            "(a tokenizer_config.json or chat_template.jinja with a chat template)"
        )


def render_prompt(tokenizer: Any, conv: Conversation) -> str:
    """The conversation as text, ending with the assistant header the reply follows."""
    if not conv:
        raise ValueError("cannot build a prompt from an empty conversation")
    text = tokenizer.apply_chat_template(
        [dict(m) for m in conv], tokenize=False, add_generation_prompt=True
    )
    return str(text)


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of `text`, with no special tokens added."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def prompt_ids(tokenizer: Any, conv: Conversation) -> list[int]:
    """Token ids of the rendered prompt."""
    return encode(tokenizer, render_prompt(tokenizer, conv))


def continuation_ids(
    tokenizer: Any, prompt_text: str, prompt: Sequence[int], continuation: str
) -> list[int]:
    """Token ids of `continuation` as it follows `prompt`.

    The continuation is tokenized together with the prompt text first, which gives the
    tokenization the model would see if the whole text were written out. That only works
    when the prompt's own tokens are an exact prefix of the joint tokens; a tokenizer may
    merge the prompt's last characters with the continuation's first (a template ending in
    plain text rather than a special token). In that case the continuation is tokenized on
    its own and its ids are appended to the prompt's, so the prompt the model conditions on
    is always exactly the generation prompt and the score stays comparable with `generate`.
    """
    if not continuation:
        return []
    joint = encode(tokenizer, prompt_text + continuation)
    n = len(prompt)
    if len(joint) > n and list(joint[:n]) == list(prompt):
        return list(joint[n:])
    return encode(tokenizer, continuation)


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut `text` just before the earliest occurrence of any stop string."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if 0 <= i < cut:
                cut = i
    return text[:cut]
