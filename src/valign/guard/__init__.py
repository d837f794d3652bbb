"""valign.guard: a content filter for prompts and responses, driven by the constitution.

One interface (:class:`GuardBackend`: inputs in, :class:`GuardVerdict` s out) over several
backends, registered as plugins: the fast classifier (MiniLM embeddings and a calibrated
multi-label head), the LLM guard (a Llama-Guard-style prompt over any chat model), rules
(deny/allow regular expressions) and the cascade (fast first, LLM for the uncertain band).
Beside them: a refusal detector, guarded generation around any chat model, a JSONL file
contract and an OpenAI-compatible HTTP server. See ``docs/guard.md``.

    from valign.guard import GuardInput, get_backend
    guard = get_backend()                 # the default guard, built on first use
    guard.classify([GuardInput("How do I bake bread?")])
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.guard.build import TrainConfig, default_guard_dir, ensure_default_guard, train_guard
    from valign.guard.cascade import CascadeGuard
    from valign.guard.classifier import FastClassifier
    from valign.guard.default import learned_refusal, load_refusal_detector
    from valign.guard.encoder import Encoder
    from valign.guard.export import export_guard
    from valign.guard.guarded import GuardedChatModel
    from valign.guard.head import HeadConfig
    from valign.guard.llm import LLMGuard
    from valign.guard.refusal import RefusalDetector, RefusalResult, keyword_refusal
    from valign.guard.rules import RuleGuard
    from valign.guard.types import (
        ENTRY_POINT_GROUP,
        GuardBackend,
        GuardInput,
        GuardVerdict,
        get_backend,
        register_backend,
        registered_backends,
    )

__all__ = [
    "ENTRY_POINT_GROUP",
    "CascadeGuard",
    "Encoder",
    "FastClassifier",
    "GuardBackend",
    "GuardInput",
    "GuardVerdict",
    "GuardedChatModel",
    "HeadConfig",
    "LLMGuard",
    "RefusalDetector",
    "RefusalResult",
    "RuleGuard",
    "TrainConfig",
    "default_guard_dir",
    "ensure_default_guard",
    "export_guard",
    "get_backend",
    "keyword_refusal",
    "learned_refusal",
    "load_refusal_detector",
    "register_backend",
    "registered_backends",
    "train_guard",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "build": ["TrainConfig", "default_guard_dir", "ensure_default_guard", "train_guard"],
            "cascade": ["CascadeGuard"],
            "classifier": ["FastClassifier"],
            "default": ["learned_refusal", "load_refusal_detector"],
            "encoder": ["Encoder"],
            "export": ["export_guard"],
            "guarded": ["GuardedChatModel"],
            "head": ["HeadConfig"],
            "llm": ["LLMGuard"],
            "refusal": ["RefusalDetector", "RefusalResult", "keyword_refusal"],
            "rules": ["RuleGuard"],
            "types": [
                "ENTRY_POINT_GROUP",
                "GuardBackend",
                "GuardInput",
                "GuardVerdict",
                "get_backend",
                "register_backend",
                "registered_backends",
            ],
        },
    )
