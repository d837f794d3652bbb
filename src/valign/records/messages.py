"""One chat turn, one type: the `Message` every stage passes to a model and every task holds.

A message is a plain dict (``{"role": "user", "content": "..."}``) because that is what chat
templates and OpenAI-compatible servers take, so a conversation goes to a model unchanged.
It is still typed and validated: task and comparison files are checked against it by
pydantic (a misspelt role or an extra key is an error with its line number).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter, with_config
from typing_extensions import TypedDict

from valign.errors import UserError

Role = Literal["system", "user", "assistant"]


@with_config(ConfigDict(extra="forbid"))
class Message(TypedDict):
    """One chat turn, in the format chat templates and OpenAI-compatible servers expect."""

    role: Role
    content: str


Conversation = list[Message]
"""A chat so far, oldest turn first; the model writes the next assistant turn."""


_CONVERSATION: TypeAdapter[list[Message]] = TypeAdapter(list[Message])


def to_messages(raw: Any) -> list[Message]:
    """Check a list of ``{"role", "content"}`` dicts; raises pydantic's ``ValidationError``."""
    return _CONVERSATION.validate_python(raw)


def reply_text(value: Any, where: str, key: str) -> str:
    """A reply given as text or as one assistant turn (TRL's conversational form);
    anything else is a :class:`UserError` naming ``where`` and ``key``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        turn = value[0]
        if turn.get("role") == "assistant" and isinstance(turn.get("content"), str):
            return str(turn["content"])
    raise UserError(f"{where}: {key}: expected text or one assistant turn")
