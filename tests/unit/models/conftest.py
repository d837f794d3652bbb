"""Fixtures for valign.models tests (the builders live in models_testkit.py)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from models_testkit import serve_app, train_model, train_tokenizer

from valign.models import HFChatModel
from valign.models.threads import one_thread


@pytest.fixture(autouse=True)
def _single_threaded_torch() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved chat model folder: tokenizer with chat template + trained tiny Llama."""
    folder = tmp_path_factory.mktemp("tiny-chat-model")
    tokenizer = train_tokenizer()
    with one_thread():
        model = train_model(tokenizer)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_hf(tiny_model_dir: Path) -> HFChatModel:
    """The tiny model loaded once for the whole session (treat as read-only)."""
    return HFChatModel(tiny_model_dir, name="tiny")


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """`serve(app)` starts `app` on 127.0.0.1 for the test and returns its base URL."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(serve_app(app))


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
