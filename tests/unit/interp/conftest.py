"""Fixtures for the interp tests: tiny random models of two architectures, one tokenizer."""

from __future__ import annotations

from typing import Any

import pytest
from interp_testkit import gpt2, llama, tokenizer
from transformers import PreTrainedTokenizerFast


@pytest.fixture(scope="session")
def tok() -> PreTrainedTokenizerFast:
    return tokenizer()


@pytest.fixture(scope="session", params=["llama", "gpt2"])
def tiny_model(request: pytest.FixtureRequest, tok: PreTrainedTokenizerFast) -> Any:
    """A tiny random causal LM, once Llama-style and once GPT-2-style (treat as read-only)."""
    return llama(len(tok)) if request.param == "llama" else gpt2(len(tok))
