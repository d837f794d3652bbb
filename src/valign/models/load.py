"""`load_model`: one string names any model, wherever it runs.

./runs/sft-model            a local folder (any path that exists)
smollm2                     a packaged real model by name (valign.models.packaged)
Qwen/Qwen2.5-0.5B-Instruct  a hub id (loaded from the local cache or downloaded)
http://host:8000/v1         an OpenAI-compatible server, its first served model
http://host:8000/v1#name    ... a named model on that server
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.models.endpoint import EndpointChatModel
from valign.models.hf import HFChatModel
from valign.models.packaged import ensure_packaged, is_packaged
from valign.models.types import ChatModel

API_KEY_ENV = ("VALIGN_API_KEY", "OPENAI_API_KEY")
"""Environment variables read, in this order, for an endpoint's API key."""

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def load_model(spec: str, **kw: Any) -> ChatModel:
    """Open the model `spec` names (see the module docstring for the forms).

    Keyword arguments go to `HFChatModel` (device, dtype, local_files_only, ...) or to
    `EndpointChatModel` (concurrency, timeout, tokenizer, ...). For an endpoint, `api_key`
    defaults to the first of `VALIGN_API_KEY`, `OPENAI_API_KEY` that is set.
    """
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        base_url, _, name = spec.partition("#")
        kw.setdefault("api_key", api_key_from_env())
        return EndpointChatModel(base_url, name or None, **kw)
    path = Path(spec).expanduser()
    if path.is_dir():
        return HFChatModel(path, name=kw.pop("name", spec), **kw)
    if path.exists():
        raise UserError(f"model path is not a folder: {spec}")
    if is_packaged(spec):
        return HFChatModel(ensure_packaged(spec), name=kw.pop("name", spec), **kw)
    if looks_like_path(spec):
        raise UserError(f"model not found: {spec}")
    return HFChatModel(spec, **kw)


def api_key_from_env() -> str | None:
    """The first API key set in `VALIGN_API_KEY` or `OPENAI_API_KEY`."""
    for var in API_KEY_ENV:
        if os.environ.get(var):
            return os.environ[var]
    return None


def looks_like_path(spec: str) -> bool:
    """True when `spec` can only be meant as a filesystem path, never as a hub id."""
    if spec.startswith((".", "/", "~")):
        return True
    separators = [s for s in (os.sep, os.altsep) if s]
    return any(s in spec for s in separators) and not _HUB_ID.fullmatch(spec)
