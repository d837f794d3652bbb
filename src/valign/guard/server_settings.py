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
