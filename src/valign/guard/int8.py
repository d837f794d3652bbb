"""int8 matrix products for the guard's encoder, with activation scales fixed in advance.

On a CPU without native bfloat16, MiniLM's time goes to its 36 linear layers; int8 weights
and inputs run them about twice as fast as float32 (fbgemm's kernels). Dynamic quantization
(``torch.ao.quantization.quantize_dynamic``) picks each input's scale from the whole batch,
padding included, so a text's embedding would depend on its batch-mates, and in the server
one client's request could move another's verdict. Here each layer's input scale is instead
*calibrated once*, from the float model's activations on a fixed set of the project's own
training texts, and stays fixed: every row is quantized on its own, so a batch-mate, however
large its activations, cannot coarsen another text's numbers; a text's embedding is the same
in any batch up to float rounding (attention over padded keys rounds a little differently),
and the same batch gives the same verdicts every time.

* weights: int8, one scale per output channel (symmetric), 7 bits of magnitude so that
  fbgemm's 16-bit pair sums never saturate on CPUs without VNNI;
* inputs: uint8 over the calibrated ``[lo, hi]`` of that layer (asymmetric), values
  beyond it clipped; the few *outlier* channels (calibrated magnitude above 3x the layer's
  median; MiniLM has 0-16 per layer, 4 on average, up to 30 where the median is 2) go
  through a small float product instead, so they do not coarsen every other channel's scale;
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

#: Bumped when the calibration texts or rules change, so cached ranges are recomputed.
CALIBRATION_VERSION = "4"
#: Calibration texts: this many from the project's train split and the microworld's.
CALIBRATION_TEXTS = 256
#: Weights use 7 bits of magnitude: uint8 x int8 pair sums then stay within int16
#: (255 * 64 * 2 < 32767), so fbgemm's AVX2 kernels never saturate.
WEIGHT_MAX = 63
#: An input channel whose calibrated magnitude exceeds this many times the layer's median
#: is an outlier and stays in float (at most MAX_OUTLIERS per layer, the largest first).
OUTLIER_FACTOR = 3.0
MAX_OUTLIERS = 16


@dataclass(frozen=True)
class LayerRange:
    """What calibration keeps of one layer's inputs.

    Attributes:
        lo: The smallest value of the int8 channels (0 or below).
        hi: The largest (0 or above).
        outliers: Input channels computed in float: MiniLM's residual stream has a few
            channels 5-15 times larger than the rest, which would otherwise set the scale
            of every channel and leave the ordinary values a handful of levels.
    """

    lo: float
    hi: float
    outliers: tuple[int, ...] = ()


Ranges = dict[str, LayerRange]


def _int8_linear_op() -> Any:
    """The fbgemm operator (its default overload: no per-call overload resolution)."""
    packet = getattr(torch.ops.quantized, "linear_with_input_q_dq_qweight_dq_output_fp32", None)
    return None if packet is None else packet.default


_INT8_LINEAR = _int8_linear_op()


class Int8Linear(nn.Module):
    """``nn.Linear`` with int8 weights and uint8 inputs at a fixed, calibrated scale; the
    calibrated outlier channels go through a small float product instead.

    Args:
        linear: The float layer to replace (its weights are copied and quantized).
        bounds: The layer's calibrated input range and outlier channels.
    """

    def __init__(self, linear: nn.Linear, bounds: LayerRange) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().float().clone()  # (out, in)
        self.outliers = torch.tensor(bounds.outliers, dtype=torch.long)  # (k,)
        self.outlier_weight = weight[:, self.outliers].t().contiguous()  # (k, out)
        self._has_outliers = bool(bounds.outliers)
        weight[:, self.outliers] = 0  # the int8 product skips them whatever their input
        scales = weight.abs().amax(1).clamp(min=1e-8) / WEIGHT_MAX  # (out,)
        zeros = torch.zeros(self.out_features, dtype=torch.long)
        bias = linear.bias.detach().float() if linear.bias is not None else None
        with warnings.catch_warnings():  # torch marks quantized tensor creation deprecated
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
            self._packed = torch.ops.quantized.linear_prepack(qweight, bias)
        lo, hi = min(bounds.lo, 0.0), max(bounds.hi, 0.0)
        self.scale = max(hi - lo, 1e-8) / 255
        self.zero_point = min(255, max(0, round(-lo / self.scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape  # (..., in_features)
        flat = x.reshape(-1, self.in_features)  # (rows, in)
        if flat.dtype != torch.float32 or not flat.is_contiguous():
            flat = flat.float().contiguous()
        out = _INT8_LINEAR(flat, self.scale, self.zero_point, self._packed)  # (rows, out)
        if self._has_outliers:
            out = out.addmm_(flat.index_select(1, self.outliers), self.outlier_weight)
        return out.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return (
            f"in={self.in_features}, out={self.out_features}, input scale={self.scale:.4g}, "
            f"float channels={self.outliers.tolist()}"
        )


def available() -> bool:
    """Whether this torch has the x86 int8 kernels the int8 backend runs on."""
    engines = getattr(torch.backends.quantized, "supported_engines", [])
    return bool({"x86", "fbgemm"} & set(engines)) and _INT8_LINEAR is not None


def linear_layers(model: nn.Module) -> dict[str, nn.Linear]:
    """The model's linear layers by qualified name (the pooler's too, when it has one)."""
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}


def observe_channels(
    model: nn.Module, run: Callable[[], object]
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per input channel, the (min, max) of every linear layer's input while ``run()``
    drives ``model``: two (in_features,) tensors per layer name."""
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(name: str) -> Callable[..., None]:
        def record(_: nn.Module, inputs: tuple[torch.Tensor, ...], __: object) -> None:
            flat = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).float()  # (rows, in)
            lo, hi = flat.amin(0), flat.amax(0)
            if name in seen:
                lo, hi = torch.minimum(seen[name][0], lo), torch.maximum(seen[name][1], hi)
            seen[name] = (lo, hi)

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in linear_layers(model).items()]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return seen


def summarize(lo: torch.Tensor, hi: torch.Tensor) -> LayerRange:
    """A layer's :class:`LayerRange` from its per-channel minima and maxima."""
    size = torch.maximum(lo.abs(), hi.abs())  # (in,)
    limit = OUTLIER_FACTOR * float(size.median())
    order = torch.argsort(size, descending=True)[:MAX_OUTLIERS]
    outliers = sorted(int(i) for i in order if float(size[i]) > limit)
    keep = torch.ones_like(size, dtype=torch.bool)
    keep[outliers] = False
    return LayerRange(float(lo[keep].min()), float(hi[keep].max()), tuple(outliers))


def quantize_linears(model: nn.Module, ranges: Ranges) -> int:
    """Replace, in place, every linear layer that has a range by an :class:`Int8Linear`;
    returns how many were replaced."""
    count = 0
    for name, layer in linear_layers(model).items():
        if name not in ranges:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, Int8Linear(layer, ranges[name]))
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
        return {
            name: LayerRange(float(v["lo"]), float(v["hi"]), tuple(int(i) for i in v["outliers"]))
            for name, v in saved["ranges"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    ranges = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        body = {"ranges": {name: asdict(r) for name, r in ranges.items()}}
        partial.write_text(json.dumps(body, indent=1), encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass  # a read-only cache only costs the calibration next time
    return ranges


def calibrate(
    model: nn.Module, encode: Callable[[Sequence[str]], object], texts: Sequence[str]
) -> Ranges:
    """Each linear layer's :class:`LayerRange` while ``encode(texts)`` runs in float."""
    seen = observe_channels(model, lambda: encode(list(texts)))
    return {name: summarize(lo, hi) for name, (lo, hi) in seen.items()}
