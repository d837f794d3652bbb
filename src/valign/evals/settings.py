"""What ``valign eval`` (and :func:`valign.evals.run.run_eval`) evaluates, and how.

Its own module, with nothing heavy beside pydantic, so that ``valign eval``'s options can be
written from these fields when the command tree is built (``valign --help`` stays light).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EvalSettings(BaseModel):
    """What to evaluate and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(
        description="Model folder, hub id, packaged name (smollm2) or http(s)://…/v1 endpoint."
    )
    tasks: str | None = Field(
        None,
        description="Task file (JSONL or Parquet of items, or a Hugging Face dataset id "
        "org/name[:split] of them). Default: the microworld's eval split.",
    )
    constitution: str = Field(
        "default", description="Constitution name or path, for the rows per principle."
    )
    overlays: tuple[str, ...] = Field(
        (), description="Overlay composed onto the constitution (name or path; repeatable)."
    )
    limit: int = Field(0, ge=0, description="Evaluate only the first N items (0: all).")
    batch_size: int = Field(32, ge=1, description="Generation batch size.")
    max_new_tokens: int = Field(64, ge=1, description="Longest reply, in tokens.")
    seed: int = Field(0, description="World seed when the microworld split is used.")
    tokenizer: str | None = Field(
        None,
        description="Tokenizer (folder or hub id) of an endpoint model: renders prompts for "
        "scoring multiple-choice items and cuts replies to max_new_tokens in its tokens.",
    )
    restart: bool = Field(
        False, description="Discard the replies already in the output folder and start over."
    )
    judge: str = Field(
        "auto",
        description="Who decides refusals: 'pattern' (the grader's phrases; 'auto' is the "
        "same), 'guard' (the guard's attempt detector, reading request and reply) or a "
        "guard folder.",
    )
