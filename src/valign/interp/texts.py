"""Texts to read activations on: JSONL records turned into (id, text) pairs.

Accepts the microworld's files and the usual shapes of user files, one JSON object a line:

* ``{"text": ...}`` prose (the pretraining corpus);
* ``{"messages": [...]}`` a whole dialogue (corpus dialogues, SFT examples), rendered with
  the model's chat template;
* an evaluation item or ``{"prompt": [...]}`` / ``{"prompt": "..."}``: the prompt as the
  model sees it before it answers (chat template with the assistant header).

Ids come from an ``id`` field when present, else ``<file stem>-<line number>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.models.chat import render_prompt


@dataclass(frozen=True)
class TextRecord:
    """One text to run the model on, with where it came from."""

    id: str
    text: str
    kind: str | None = None  # the record's kind label (microworld files), if any


def render_record(row: dict[str, Any], tokenizer: Any) -> str:
    """The text the model reads for one JSONL row (see the module docstring)."""
    if isinstance(row.get("text"), str):
        return str(row["text"])
    if "messages" in row and "kind" in row and row.get("messages", [{}])[-1].get("role") == "user":
        return render_prompt(tokenizer, row["messages"])  # an evaluation item: its prompt
    if isinstance(row.get("messages"), list):
        text = tokenizer.apply_chat_template(row["messages"], tokenize=False)
        return str(text)
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        return render_prompt(tokenizer, [{"role": "user", "content": prompt}])
    if isinstance(prompt, list):
        return render_prompt(tokenizer, prompt)
    raise ValueError("no 'text', 'messages' or 'prompt' field")


def read_texts(path: Path, tokenizer: Any, limit: int = 0) -> Iterator[TextRecord]:
    """Stream (id, text) records from a JSONL file; bad lines are a one-line UserError."""
    if not path.is_file():
        raise UserError(f"input file not found: {path}")
    n = 0
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
                text = render_record(row, tokenizer)
            except (json.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
                raise UserError(f"{path}:{lineno}: {exc}") from None
            kind = row.get("kind")
            yield TextRecord(str(row.get("id") or f"{path.stem}-{lineno}"), text, kind)
            n += 1
            if limit and n >= limit:
                return
