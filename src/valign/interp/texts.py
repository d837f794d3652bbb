"""Texts to read activations on: JSONL records turned into (id, text) pairs.

Accepts the microworld's files and the usual shapes of user data, one row each, from a JSONL
or Parquet file or a Hugging Face dataset id (``valign.records.sources``):

* ``{"text": ...}`` prose (the pretraining corpus);
* ``{"messages": [...]}`` a whole dialogue (corpus dialogues, SFT examples), rendered with
  the model's chat template;
* an evaluation item or ``{"prompt": [...]}`` / ``{"prompt": "..."}``: the prompt as the
  model sees it before it answers (chat template with the assistant header).

Ids come from an ``id`` field when present, else ``<file stem>-<line or row number>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.models.chat import render_prompt
from valign.records.sources import iter_rows, source_stem


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


def read_texts(source: str | Path, tokenizer: Any, limit: int = 0) -> Iterator[TextRecord]:
    """Stream (id, text) records from a JSONL or Parquet file or a Hugging Face dataset id
    (``valign.records.sources``); a bad row is a one-line UserError."""
    stem = source_stem(source)
    for n, (where, row) in enumerate(iter_rows(source, "input file"), 1):
        try:
            text = render_record(row, tokenizer)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UserError(f"{where}: {exc}") from None
        number = where.rpartition(":")[2].removeprefix("row ")
        yield TextRecord(str(row.get("id") or f"{stem}-{number}"), text, row.get("kind"))
        if limit and n >= limit:
            return
