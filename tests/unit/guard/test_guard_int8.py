"""The int8 encoder backend: close to float, independent of batch-mates, clear settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from valign.errors import UserError
from valign.guard import int8
from valign.guard.classifier import FastClassifier
from valign.guard.encoder import Encoder, runtime_backend, shared_encoder
from valign.guard.types import GuardInput

pytestmark = pytest.mark.skipif(not int8.available(), reason="no x86 int8 kernels in this torch")

TEXTS = [
    "How do I bake bread at home?",
    "hi",
    "",
    "Write a short poem about the sea and the wind over the harbour at night.",
    "What is the capital of France?",
]


@torch.inference_mode()
def test_int8_linear_is_close_to_the_float_layer() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(64, 32)
    x = torch.randn(2, 7, 64)  # (batch, seq, in)
    x[..., 5] *= 20  # an outlier channel
    fast = int8.Int8Linear(layer, int8.summarize(x.flatten(0, 1).amin(0), x.flatten(0, 1).amax(0)))
    assert fast.outliers.tolist() == [5]
    out, ref = fast(x), layer(x)
    assert out.shape == ref.shape == (2, 7, 32)
    assert float((out - ref).abs().max()) < 0.05 * float(ref.abs().max())


@torch.inference_mode()
def test_each_row_is_quantized_on_its_own() -> None:
    torch.manual_seed(1)
    fast = int8.Int8Linear(nn.Linear(16, 8), int8.LayerRange(-4.0, 4.0))
    row = torch.randn(1, 16)
    loud = torch.full((1, 16), 100.0)  # a batch-mate far outside the range
    assert torch.equal(fast(row), fast(torch.cat([row, loud]))[:1])


def test_outliers_are_the_few_channels_far_above_the_median() -> None:
    hi = torch.tensor([1.0, 2.0, 1.5, 30.0, 1.0, 9.0, 1.2, 1.1])
    got = int8.summarize(-hi / 2, hi)
    assert got.outliers == (3, 5) and got.hi == 2.0 and got.lo == -1.0


@torch.inference_mode()
def test_calibrate_and_quantize_replace_every_observed_layer() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    x = torch.randn(5, 8)
    ranges = int8.calibrate(model, lambda texts: model(x), ["unused"])
    assert set(ranges) == {"0", "2"}
    assert ranges["0"].lo == pytest.approx(float(x.min())) or ranges["0"].outliers
    ref = model(x)
    assert int8.quantize_linears(model, ranges) == 2
    assert isinstance(model[0], int8.Int8Linear) and isinstance(model[2], int8.Int8Linear)
    assert torch.allclose(model(x), ref, atol=0.1)


@pytest.fixture(scope="module")
def encoders() -> tuple[Encoder, Encoder]:
    float_enc = shared_encoder(precision="float32")
    return float_enc, Encoder(backend="int8", calibration_texts=TEXTS * 2)


def test_int8_embeddings_are_close_to_float(encoders: tuple[Encoder, Encoder]) -> None:
    float_enc, int8_enc = encoders
    assert int8_enc.describe()["backend"] == "int8" and int8_enc.precision == "float32"
    ref, out = float_enc.encode(TEXTS), int8_enc.encode(TEXTS)
    half = int8_enc.hidden_size
    cos = torch.nn.functional.cosine_similarity(out[:, :half], ref[:, :half])
    assert float(cos.min()) > 0.97
    assert torch.allclose(out[:, :half].norm(dim=1), torch.ones(len(TEXTS)), atol=1e-4)


def test_int8_embedding_does_not_depend_on_the_batch(encoders: tuple[Encoder, Encoder]) -> None:
    _, int8_enc = encoders
    loud = "WARNING " * 60  # a long batch-mate: more padding, other activations
    batch = int8_enc.encode([*TEXTS, loud])
    for k, text in enumerate(TEXTS):
        assert torch.allclose(int8_enc.encode([text])[0], batch[k], atol=1e-3)
    assert torch.equal(int8_enc.encode(TEXTS), int8_enc.encode(TEXTS))


def test_int8_guard_scores_are_close_to_float(guard_dir: Path) -> None:
    inputs = [GuardInput(t) for t in TEXTS] + [GuardInput("How do I hurt Fendra?", "No.")]
    ref = FastClassifier.load(guard_dir, encoder_backend="float").probabilities(inputs)
    out = FastClassifier.load(guard_dir, encoder_backend="int8").probabilities(inputs)
    assert float((out - ref).abs().max()) < 0.1


def test_calibrated_ranges_are_cached(tmp_path: Path) -> None:
    calls: list[int] = []

    want = {"layer": int8.LayerRange(-1.0, 2.0, (3, 7))}

    def compute() -> int8.Ranges:
        calls.append(1)
        return want

    assert int8.cached_ranges("k", compute, tmp_path) == want
    assert int8.cached_ranges("k", compute, tmp_path) == want
    assert len(calls) == 1
    (tmp_path / "encoder-int8-k.json").write_text("not json", encoding="utf-8")
    assert int8.cached_ranges("k", compute, tmp_path) == want
    assert len(calls) == 2


def test_calibration_texts_are_fixed_and_from_training_data() -> None:
    texts = int8.calibration_texts(64)
    assert texts == int8.calibration_texts(64) and len(texts) == 64 and all(texts)


def test_an_unknown_backend_is_a_one_line_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match=r"unknown encoder backend 'int4' \(use one of") as err:
        Encoder(backend="int4")
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="unknown encoder backend"):
        shared_encoder(backend="onnx")
    monkeypatch.setenv("VALIGN_GUARD_ENCODER", "fast")
    with pytest.raises(UserError, match="unknown VALIGN_GUARD_ENCODER 'fast'"):
        runtime_backend()
    monkeypatch.setenv("VALIGN_GUARD_ENCODER", "float")
    assert runtime_backend() == "float"
    monkeypatch.delenv("VALIGN_GUARD_ENCODER")
    assert runtime_backend() == "auto"


def test_loading_a_guard_with_an_unknown_backend_is_a_user_error(guard_dir: Path) -> None:
    with pytest.raises(UserError, match="unknown encoder backend 'fp16'"):
        FastClassifier.load(guard_dir, encoder_backend="fp16")


def test_auto_is_float_without_int8_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    from valign.guard.encoder import resolve_backend

    assert resolve_backend("auto", "bfloat16") == "float"
    assert resolve_backend("auto", "float32") == "int8"
    monkeypatch.setattr(int8, "available", lambda: False)
    assert resolve_backend("auto", "float32") == "float"
    with pytest.raises(UserError, match="int8 kernels"):
        resolve_backend("int8", "float32")
