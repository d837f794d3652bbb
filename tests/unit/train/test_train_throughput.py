"""The training-throughput benchmark's builders and arithmetic (benchmarks/train_throughput.py);
the arms themselves need a GPU to mean anything and are run by hand."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from valign.train.common import use_liger
from valign.train.dpo import DPOSettings
from valign.train.sft import SFTSettings

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "train_throughput.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_throughput", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_tiny_qwen2_model_tokenizer_and_data(bench: ModuleType, tmp_path: Path) -> None:
    shape = bench.TINY
    n_params = bench.build_model(shape, tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    cfg = model.config
    assert cfg.model_type == "qwen2" and cfg.tie_word_embeddings
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size) == (64, 2, 1024)
    assert model.dtype == torch.bfloat16
    assert n_params == sum(p.numel() for p in model.parameters())
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert tok.chat_template and len(tok) <= cfg.vocab_size
    assert tok.pad_token_id is not None and tok.eos_token == "<|end|>"

    rows = bench.synthetic_rows(tok, shape.seq, 6)
    bench.write_data(rows, tmp_path)
    for r in rows:
        for reply in (r["chosen"], r["rejected"]):
            n = bench._length(tok, [*r["prompt"], {"role": "assistant", "content": reply}])
            assert int(shape.seq * 0.9) <= n <= shape.seq
    demo = json.loads((tmp_path / "demos.jsonl").read_text().splitlines()[0])
    assert demo["messages"][-1] == {"role": "assistant", "content": rows[0]["chosen"]}


def test_the_rollout_timer_counts_sampled_tokens(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import GenerationMixin

    monkeypatch.setattr(GenerationMixin, "generate", GenerationMixin.generate)  # restored after
    bench.build_model(bench.TINY, tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    totals = bench._generation_timer(cuda=False)
    prompt = torch.tensor([[5, 6, 7], [8, 9, 10]])
    out = model.generate(input_ids=prompt, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape == (2, 7)
    assert totals["tokens"] == 8 and totals["seconds"] > 0
    assert bench._length_reward(["ab", "abcd"]) == [0.002, 0.004]


def test_the_qwen25_shape_has_half_a_billion_parameters(bench: ModuleType) -> None:
    from transformers import Qwen2ForCausalLM

    cfg = bench.qwen2_config(bench.QWEN25_05B)
    with torch.device("meta"):
        model = Qwen2ForCausalLM(cfg)
    assert sum(p.numel() for p in model.parameters()) == 494_032_768  # Qwen2.5-0.5B's count


def test_flops_and_mfu(bench: ModuleType) -> None:
    assert bench.train_flops_per_token(500_000_000) == 3e9
    # The reference figure: 28k tokens/s of a 494 M model on an H100 is 8.4% MFU.
    peak = bench.peak_flops("NVIDIA H100 80GB HBM3")
    assert peak == 989e12
    assert bench.mfu(28_000, 494_032_768, peak) == pytest.approx(0.0839, abs=1e-4)
    assert bench.peak_flops("NVIDIA H100 PCIe") == 756e12
    assert bench.peak_flops("cpu") is None and bench.mfu(1.0, 1, None) is None


def test_liger_follows_the_hardware_unless_set() -> None:
    assert SFTSettings().liger is None and DPOSettings().liger is None
    assert use_liger(True) and not use_liger(False)
    if not torch.cuda.is_available():
        assert not use_liger(None)  # CPU behaviour: never on
