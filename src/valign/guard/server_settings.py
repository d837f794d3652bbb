"""The guard server's limits and options, read by the app and by its request parsers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GuardServerSettings:
    """Limits and options of the guard server.

    Attributes:
        token: Bearer token required on ``/v1/*`` (None: open).
        max_body_bytes: Largest request body accepted (413 above).
        max_inputs: Most inputs in one request (400 above).
        max_chars: Longest single input, in characters (400 above).
        batch_size: Most inputs the model sees in one micro-batch.
        batch_wait_ms: How long an input waits for others to join its batch.
        model_name: The ``model`` reported in moderation responses.
    """

    token: str | None = None
    max_body_bytes: int = 1_000_000
    max_inputs: int = 256
    max_chars: int = 32_000
    batch_size: int = 64
    batch_wait_ms: float = 4.0
    model_name: str = "valign-guard"


@dataclass(frozen=True)
class GuardServeConfig(GuardServerSettings):
    """``valign guard serve``: which guard, where, and the server's limits, in one settings
    file (``--config``; the command's options override it).

    Attributes:
        guard: Guard to serve: 'default', a registered backend, a guard folder or a rules file.
        host: Address to listen on.
        port: Port to listen on.
        constitution: Constitution whose ``openai_moderation`` fields map the guard's
            categories to OpenAI's names (None: the one the guard was trained on, else
            'default').
    """

    guard: str = "default"
    host: str = "127.0.0.1"
    port: int = 8100
    constitution: str | None = None
