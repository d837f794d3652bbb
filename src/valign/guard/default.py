"""The default guard: the fast classifier and attempt detector valign trains on first use.

Everything that reaches for "the guard" without naming a folder comes here: the
``classifier`` backend without a path, the refusal detector without a path, and the learned
refusal function for grading. This module is where the default guard is built
(:func:`valign.guard.build.ensure_default_guard`); the classifier and the detector
themselves only load folders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from valign.guard.build import ensure_default_guard
from valign.guard.classifier import FastClassifier
from valign.guard.refusal import RefusalDetector
from valign.guard.types import register_backend


def default_guard() -> Path:
    """The default guard's folder, trained into the user cache on first use."""
    return ensure_default_guard()


@register_backend("classifier", help="MiniLM embeddings + a multi-label head (the default).")
def classifier_backend(
    path: str | Path | None = None, encoder_backend: str | None = None, **_: Any
) -> FastClassifier:
    """The fast classifier saved at ``path``; else the default guard (built on first use)."""
    return FastClassifier.load(path if path is not None else default_guard(), encoder_backend)


def load_refusal_detector(
    path: str | Path | None = None, encoder_backend: str | None = None
) -> RefusalDetector:
    """The detector saved in a guard folder; without a path, the default guard's."""
    return RefusalDetector.load(path if path is not None else default_guard(), encoder_backend)


def learned_refusal(path: str | Path | None = None) -> Callable[[str], bool]:
    """A refusal function for ``valign.world.grade(item, response, refusal=...)``."""
    return load_refusal_detector(path)
