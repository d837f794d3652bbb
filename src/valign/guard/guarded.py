"""Guarded generation: any chat model behind the guard, on its inputs and its outputs.

:class:`GuardedChatModel` is itself a :class:`~valign.models.ChatModel`, so every stage
(evaluation, red teaming, the demo) can put the guard in front of a model without knowing
it is there:

1. the last user turn of each conversation is judged; a flagged one is not sent to the
   model at all, and the reply is the constitution's refusal message;
2. each reply is judged in the context of its prompt; a flagged reply is replaced by the
   refusal message;
3. every decision (input and output, allowed or blocked) is appended to a JSONL log.

Scoring (:meth:`continuation_logprobs`) passes straight through: it reads the model's
probabilities, it does not produce text a user sees.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from valign.guard.types import GuardBackend, GuardInput, GuardVerdict
from valign.models import ChatModel, ContinuationScore, GenerationConfig
from valign.records.messages import Conversation
from valign.records.runs import RecordWriter


def last_user_message(conv: Conversation) -> str:
    """The content of the conversation's last user turn ("" if it has none)."""
    for message in reversed(conv):
        if message["role"] == "user":
            return message["content"]
    return ""


class GuardedChatModel:
    """``model`` with ``guard`` on its inputs and outputs.

    Args:
        model: The model to protect.
        guard: Any guard backend.
        refusal_message: What a blocked turn gets; default the constitution's.
        constitution: Name or path of the constitution to take the refusal message from.
        log: JSONL file that every decision is appended to (None: no log).
        check_inputs / check_outputs: Which side to guard.
    """

    def __init__(
        self,
        model: ChatModel,
        guard: GuardBackend,
        refusal_message: str | None = None,
        constitution: str = "default",
        log: str | Path | None = None,
        check_inputs: bool = True,
        check_outputs: bool = True,
    ) -> None:
        if refusal_message is None:
            from valign.values import load_constitution

            refusal_message = load_constitution(constitution).refusal_message
        self.model, self.guard = model, guard
        self.refusal_message = refusal_message
        self.check_inputs, self.check_outputs = check_inputs, check_outputs
        self.name = f"{model.name}+guard:{guard.name}"
        self._log = RecordWriter(log) if log is not None else None
        self.counts = {"turns": 0, "inputs_blocked": 0, "outputs_blocked": 0}

    def _record(
        self, index: int, stage: str, item: GuardInput, verdict: GuardVerdict | None
    ) -> None:
        if self._log is None or verdict is None:
            return
        self._log.write(
            {
                "time": time.time(),
                "index": index,
                "stage": stage,
                "action": "block" if verdict.flagged else "allow",
                "prompt": item.prompt,
                "response": item.response,
                **verdict.to_dict(),
            }
        )

    def generate(
        self,
        convs: Sequence[Conversation],
        config: GenerationConfig,
        progress: bool = False,
    ) -> list[str]:
        prompts = [last_user_message(c) for c in convs]
        inputs = [GuardInput(p) for p in prompts]
        verdicts: list[GuardVerdict | None] = [None] * len(convs)
        if self.check_inputs:
            verdicts = list(self.guard.classify(inputs))
        replies = [self.refusal_message] * len(convs)
        todo = [k for k, v in enumerate(verdicts) if v is None or not v.flagged]
        for k, v in enumerate(verdicts):
            self._record(k, "input", inputs[k], v)
        if todo:
            generated = self.model.generate([convs[k] for k in todo], config, progress)
            for k, text in zip(todo, generated, strict=True):
                replies[k] = text
        if self.check_outputs and todo:
            outs = [GuardInput(prompts[k], replies[k]) for k in todo]
            for k, item, v in zip(todo, outs, self.guard.classify(outs), strict=True):
                self._record(k, "output", item, v)
                if v.flagged:
                    replies[k] = self.refusal_message
                    self.counts["outputs_blocked"] += 1
        self.counts["turns"] += len(convs)
        self.counts["inputs_blocked"] += len(convs) - len(todo)
        return replies

    def continuation_logprobs(
        self, convs: Sequence[Conversation], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        return self.model.continuation_logprobs(convs, continuations)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> GuardedChatModel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # Anything else (device, tokenizer...) is the wrapped model's.
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)
