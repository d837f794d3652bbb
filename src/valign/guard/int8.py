"""int8 matrix products for the guard's encoder, with activation scales fixed in advance.

On a CPU without native bfloat16, MiniLM's time goes to its 36 linear layers; int8 weights
and inputs run them about twice as fast as float32 (fbgemm's kernels). Dynamic quantization
(``torch.ao.quantization.quantize_dynamic``) picks each input's scale from the whole batch,
padding included, so a text's embedding would depend on its batch-mates, and in the server
one client's request could move another's verdict. Here each layer's input scale is instead
*calibrated once*, from the float model's activations on a fixed set of the project's own
training texts, and stays fixed: every row is quantized on its own, a text's embedding is
the same in any batch, and the same text gives the same verdict every time.

* weights: int8, one scale per output channel (symmetric);
* inputs: uint8 over the calibrated ``[lo, hi]`` of that layer (asymmetric), values
  beyond it clipped;
* outputs: float32, bias added in float.

The kernels are torch's fbgemm/x86 quantized operators (``torch.ops.quantized``), present
in the CPU builds for x86; :func:`available` says whether this torch has them.

The calibrated ranges depend only on the encoder's weights and the calibration texts; they
are cached in the user cache (``encoder-int8-<fingerprint>.json``), so calibration (a few
seconds) runs once per machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

#: Bumped when the calibration texts or rules change, so cached ranges are recomputed.
CALIBRATION_VERSION = "1"
#: Calibration texts: this many from the project's train split and the microworld's.
CALIBRATION_TEXTS = 256
WEIGHT_MAX = 127  # 7-bit weights (no int16 saturation) measured worse on the guard

Ranges = dict[str, tuple[float, float]]


class Int8Linear(nn.Module):
    """``nn.Linear`` with int8 weights and uint8 inputs at a fixed, calibrated scale.

    Args:
        linear: The float layer to replace (its weights are copied and quantized).
        lo: The smallest input value to represent (calibrated; 0 is always included).
        hi: The largest.
    """

    def __init__(self, linear: nn.Linear, lo: float, hi: float) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().float()  # (out, in)
        scales = weight.abs().amax(1).clamp(min=1e-8) / WEIGHT_MAX  # (out,)
        zeros = torch.zeros(self.out_features, dtype=torch.long)
        bias = linear.bias.detach().float() if linear.bias is not None else None
        with warnings.catch_warnings():  # torch marks quantized tensor creation deprecated
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
            self._packed = torch.ops.quantized.linear_prepack(qweight, bias)
        lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
        self.scale = max(hi - lo, 1e-8) / 255
        self.zero_point = min(255, max(0, round(-lo / self.scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape  # (..., in_features)
        flat = x.reshape(-1, self.in_features).float().contiguous()  # (rows, in)
        out = torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(
            flat, self.scale, self.zero_point, self._packed
        )  # (rows, out)
        return out.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, input scale={self.scale:.4g}"


def available() -> bool:
    """Whether this torch has the x86 int8 kernels the int8 backend runs on."""
    engines = getattr(torch.backends.quantized, "supported_engines", [])
    ops = torch.ops.quantized
    return bool({"x86", "fbgemm"} & set(engines)) and hasattr(
        ops, "linear_with_input_q_dq_qweight_dq_output_fp32"
    )


def linear_layers(model: nn.Module) -> dict[str, nn.Linear]:
    """The model's linear layers by qualified name (the pooler's too, when it has one)."""
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}


def observe_ranges(model: nn.Module, run: Callable[[], object]) -> Ranges:
    """The (min, max) of every linear layer's input while ``run()`` drives ``model``."""
    ranges: Ranges = {}

    def hook(name: str) -> Callable[..., None]:
        def record(_: nn.Module, inputs: tuple[torch.Tensor, ...], __: object) -> None:
            lo, hi = float(inputs[0].min()), float(inputs[0].max())
            old = ranges.get(name, (lo, hi))
            ranges[name] = (min(old[0], lo), max(old[1], hi))

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in linear_layers(model).items()]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return ranges


def quantize_linears(model: nn.Module, ranges: Ranges) -> int:
    """Replace, in place, every linear layer that has a range by an :class:`Int8Linear`;
    returns how many were replaced."""
    count = 0
    for name, layer in linear_layers(model).items():
        if name not in ranges:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, Int8Linear(layer, *ranges[name]))
        count += 1
    return count


def calibration_texts(n: int = CALIBRATION_TEXTS) -> list[str]:
    """A fixed mix of training texts: the project's prompts and microworld prompts and replies.

    Training split only, so held-out figures are measured on texts calibration never saw.
    """
    from valign.guard.data import microworld_examples, project_examples

    project = [e.prompt for e in project_examples(0, 0) if e.split == "train"]
    world = microworld_examples(0, 40, 0)
    world_texts = [t for e in world for t in (e.prompt, e.response) if t]
    texts = list(dict.fromkeys(project[: n // 2] + world_texts))
    return texts[:n]


def fingerprint(model: nn.Module, max_length: int) -> str:
    """A short hash of the weights (a sample of every tensor) and the calibration settings."""
    digest = hashlib.sha256(f"{CALIBRATION_VERSION}:{max_length}".encode())
    for name, tensor in model.state_dict().items():
        sample = tensor.detach().flatten()[:256].float().contiguous()
        digest.update(name.encode())
        digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:16]


def cached_ranges(key: str, compute: Callable[[], Ranges], cache_dir: Path | None) -> Ranges:
    """Ranges from ``cache_dir/encoder-int8-<key>.json``; computed and written when absent."""
    if cache_dir is None:
        return compute()
    path = cache_dir / f"encoder-int8-{key}.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return {k: (float(v[0]), float(v[1])) for k, v in saved["ranges"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    ranges = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps({"ranges": ranges}, indent=1), encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass  # a read-only cache only costs the calibration next time
    return ranges


def calibrate(
    model: nn.Module, encode: Callable[[Sequence[str]], object], texts: Sequence[str]
) -> Ranges:
    """Input ranges of ``model``'s linear layers while ``encode(texts)`` runs in float."""
    return observe_ranges(model, lambda: encode(list(texts)))
