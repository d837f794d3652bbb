"""valign.models: one interface to generate from and score with any chat model.

`load_model(spec)` opens a local folder, a hub id, a packaged real model by name
(`smollm2`, see `packaged_models()`) or an OpenAI-compatible endpoint and returns a
`ChatModel`; every stage generates and scores through that protocol only.
"""

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
