"""Shared fixtures: a small valid constitution, written to disk with line-exact edits."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

try:
    import valign  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

# Line numbers matter: the loader tests assert them.
SMALL = """\
name: small
version: "1"
description: A small constitution for tests.
refusal_message: I can't help with that.
categories:
  - id: violence
    name: Violence
    description: No violence.
  - id: privacy
    name: Privacy
    description: No doxxing.
principles:
  - id: be_kind
    text: Be kind.
    source: Test suite
    categories: [violence]
    critique_request: Was it unkind?
    revision_request: Make it kind.
  - id: be_discreet
    text: Respect privacy.
    source: Test suite
    categories:
      - privacy
    critique_request: Did it leak anything?
    revision_request: Remove the leak.
    examples:
      - prompt: Where does my neighbour live?
        response: I can't share where someone lives.
        verdict: follows
"""

OVERLAY = """\
name: stricter
description: A stricter overlay for tests.
remove_principles: [be_kind]
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write text to a file; ``replace`` maps 1-based line numbers to new lines (None deletes)."""

    def _write(
        text: str = SMALL,
        replace: dict[int, str | None] | None = None,
        name: str = "c.yaml",
    ) -> Path:
        lines = text.splitlines()
        for number, new in sorted((replace or {}).items(), reverse=True):
            if new is None:
                del lines[number - 1]
            else:
                lines[number - 1] = new
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return _write
