"""The shapes every model shares: generation settings and the `ChatModel` protocol.

Every stage (evaluator, red team, guard, evals, training) talks to a model only through
`ChatModel`, so the same code runs on a tiny local model, a hub checkpoint or a serving
engine behind an OpenAI-compatible endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from valign.records.messages import Conversation


@dataclass(frozen=True)
class GenerationConfig:
    """How to sample a reply.

    Attributes:
        max_new_tokens: Longest reply, in tokens of the model's own tokenizer.
        temperature: 0 means greedy decoding (deterministic); above 0 samples from the
            softmax at that temperature.
        top_p: Nucleus sampling: keep the smallest set of tokens whose probability sums to
            at least `top_p`. 1.0 keeps all. Ignored when greedy.
        seed: Seeds sampling so a run can be repeated. With the same inputs, batch size and
            seed a local model returns the same samples.
        batch_size: Conversations per forward pass on a local model. Endpoints ignore it:
            their parallelism is the `concurrency` they were built with.
        stop: Strings that end the reply; the reply is cut just before the first one found
            (the stop string itself is not returned). Generation also ends at the model's
            end-of-sequence token.
    """

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 16
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")

    @property
    def greedy(self) -> bool:
        """True when decoding picks the most likely token at every step."""
        return self.temperature == 0


@dataclass(frozen=True)
class ContinuationScore:
    """How likely a model finds a given start of its reply.

    Attributes:
        logprob: Sum of the natural-log probabilities of the continuation's tokens.
        n_tokens: How many tokens that sum covers, so callers can length-normalise
            (`logprob / n_tokens`) when comparing continuations of different lengths.
    """

    logprob: float
    n_tokens: int

    @property
    def mean_logprob(self) -> float:
        """Log-probability per token; 0.0 for an empty continuation."""
        return self.logprob / self.n_tokens if self.n_tokens else 0.0


@runtime_checkable
class ChatModel(Protocol):
    """Anything valign can generate from and score with."""

    name: str

    def generate(
        self,
        convs: Sequence[Conversation],
        config: GenerationConfig,
        progress: bool = False,
    ) -> list[str]:
        """Write the next assistant turn for each conversation, in input order."""
        ...

    def continuation_logprobs(
        self,
        convs: Sequence[Conversation],
        continuations: Sequence[str],
    ) -> list[ContinuationScore]:
        """Score each continuation as the start of the assistant's reply to its conversation.

        The prompt is the conversation rendered by the chat template with the generation
        prompt (the assistant header) added; the continuation follows it directly. No
        end-of-turn token is added, so this scores a prefix of the reply.
        """
        ...
