"""valign.models: one interface to generate from and score with any chat model.

`load_model(spec)` opens a local folder, a hub id, a packaged real model by name
(`smollm2`, see `packaged_models()`) or an OpenAI-compatible endpoint and returns a
`ChatModel`; every stage generates and scores through that protocol only.
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.models.endpoint import EndpointChatModel
    from valign.models.hf import HFChatModel
    from valign.models.load import load_model
    from valign.models.packaged import ensure_packaged, packaged_models
    from valign.models.types import ChatModel, ContinuationScore, GenerationConfig

__all__ = [
    "ChatModel",
    "ContinuationScore",
    "EndpointChatModel",
    "GenerationConfig",
    "HFChatModel",
    "ensure_packaged",
    "load_model",
    "packaged_models",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "endpoint": ["EndpointChatModel"],
            "hf": ["HFChatModel"],
            "load": ["load_model"],
            "packaged": ["ensure_packaged", "packaged_models"],
            "types": ["ChatModel", "ContinuationScore", "GenerationConfig"],
        },
    )
