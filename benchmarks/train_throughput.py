"""Training throughput of SFT and DPO: valign's defaults beside TRL's, on one GPU.

    python benchmarks/train_throughput.py --out runs/throughput \\
        [--methods sft,dpo] [--arms trl-default,valign] [--steps 20] [--warmup 5] \\
        [--peak-tflops 989] [--set sft.packing=true] [--tiny]

The model is a randomly initialised Qwen2 with Qwen2.5-0.5B's shape (hidden 896, 24
layers, 14 heads, 2 key-value heads, MLP 4864, vocabulary 151,936, tied embeddings; 494 M
parameters), saved in bf16 beside a byte-level BPE tokenizer with valign's chat template;
weights are random because only the speed is measured. The data are synthetic
conversations that fill about ``--seq`` tokens (1,024): demonstrations for SFT, and
pairs whose chosen and rejected conversations are each about that long for DPO. Every arm
reads the start of the same list of rows (as many as its steps take).

Arms:

    trl-default  TRL's SFTTrainer / DPOTrainer with SFTConfig() / DPOConfig() defaults
                 (activation checkpointing, fp32 master weights under bf16 autocast, 8
                 rows per device, the reference model run at every DPO step)
    valign       valign's own trainer builders (``sft_trainer``, ``dpo_trainer``) with
                 valign's defaults as they resolve on the machine (bf16 weights, no
                 activation checkpointing, Liger layer kernels where CUDA and liger-kernel
                 are present, reference log-probabilities computed before training)

Both arms get the same harness settings, which do not change the work per step: the
sequence length, a fixed number of steps, no checkpoints, and the count of non-padding
input tokens. Each arm runs in its own process (Liger patches model code module-wide; a
fresh process also gives clean memory figures); an arm that runs out of GPU
memory is retried with half the rows per device and twice the gradient accumulation.

    grpo         GRPO rollouts (``--methods grpo``): TRL's GRPOTrainer with GRPOConfig()
                 defaults, or valign's ``rl_trainer`` with valign's RL defaults, both with
                 TRL's own generation (``model.generate``; TRL's vLLM integration is used
                 only where ``--set grpo.trl={use_vllm: true}`` asks for it and vLLM is
                 installed); replies of at most ``--completion`` tokens (256) to prompts of
                 ``--seq``/6 tokens; the reward is the reply's length (speed only)

Measured, over the steps after ``--warmup``: tokens/s (non-padding tokens of the trained
sequences per second; for DPO the chosen and the rejected ones), MFU = 6 · N · tokens/s /
peak (N: every parameter, the tied embedding once; attention's own FLOPs not counted; peak:
dense bf16 of the GPU, from a table or ``--peak-tflops``), and peak GPU memory. For DPO
with precomputed reference log-probabilities, the time of that pass is reported and
charged pro rata in "tokens/s with ref.". For GRPO, tokens/s is the rollout rate: sampled
tokens over the time spent in ``generate`` (MFU not given), and ``step_tokens_per_s`` the
sampled tokens over the whole steps. Writes ``OUT/train_throughput.json`` and
prints a markdown table. ``--tiny`` swaps in a small shape that runs on a CPU in seconds:
it checks the script, not the speed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

OOM_EXIT = 3  # a worker's exit status when the GPU ran out of memory
METHODS = ("sft", "dpo", "grpo")
ARMS = ("trl-default", "valign")


@dataclass(frozen=True)
class Shape:
    """A Qwen2 model's size and the benchmark's sequence length."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int  # the model's; the tokenizer uses the first ``tokenizer_vocab`` ids
    tokenizer_vocab: int
    seq: int


QWEN25_05B = Shape(896, 24, 14, 2, 4864, 151_936, 2_048, 1_024)
TINY = Shape(64, 2, 4, 2, 128, 1_024, 512, 128)

# Dense bf16 tensor-core peaks (FLOP/s, no sparsity), matched in order against the device
# name, so the more specific names come first.
PEAK_BF16: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
)


def peak_flops(device_name: str) -> float | None:
    """Dense bf16 peak of a GPU by its name, or None when the table does not know it."""
    for key, flops in PEAK_BF16:
        if key.lower() in device_name.lower():
            return flops
    return None


def train_flops_per_token(n_params: int) -> float:
    """6 · N: a forward (2N) and a backward (4N) pass per token, attention left out."""
    return 6.0 * n_params


def mfu(tokens_per_s: float, n_params: int, peak: float | None) -> float | None:
    """Model-FLOPs utilisation, a share of the peak (None without a peak)."""
    if peak is None or peak <= 0:
        return None
    return train_flops_per_token(n_params) * tokens_per_s / peak


# --- model, tokenizer and data -----------------------------------------------------------


def _words(rng: random.Random, n: int = 600) -> list[str]:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))))
    return sorted(words)


def _text(rng: random.Random, words: list[str], n: int) -> str:
    out = []
    for i in range(n):
        w = rng.choice(words)
        out.append(w.capitalize() if i % 12 == 0 else w)
        if i % 12 == 11:
            out[-1] += "."
    return " ".join(out)


def build_tokenizer(shape: Shape, seed: int = 0) -> Any:
    """valign's byte-level BPE tokenizer (chat template, special tokens) on synthetic text."""
    from valign.train.tokenizer import train_tokenizer

    rng = random.Random(seed)
    words = _words(rng)
    corpus = [_text(rng, words, 60) for _ in range(500)]
    return train_tokenizer(corpus, vocab_size=shape.tokenizer_vocab)


def qwen2_config(shape: Shape, tok: Any = None) -> Any:
    """A Qwen2 configuration of ``shape`` (with ``tok``'s special token ids, if given)."""
    from transformers import Qwen2Config

    ids = {}
    if tok is not None:
        ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}
        ids["pad_token_id"] = tok.pad_token_id
    return Qwen2Config(
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        intermediate_size=shape.intermediate,
        vocab_size=shape.vocab,
        tie_word_embeddings=True,
        max_position_embeddings=32_768,
        rope_parameters={"rope_theta": 1_000_000.0, "rope_type": "default"},
        rms_norm_eps=1e-6,
        **ids,
    )


def build_model(shape: Shape, out: Path, seed: int = 0) -> int:
    """A random Qwen2 of ``shape`` and its tokenizer, saved in bf16 to ``out``; returns N,
    the number of parameters (the tied embedding counted once)."""
    import torch
    from transformers import Qwen2ForCausalLM

    tok = build_tokenizer(shape, seed)
    assert len(tok) <= shape.vocab, "the tokenizer must fit in the model's vocabulary"
    torch.manual_seed(seed)
    model = cast(Any, Qwen2ForCausalLM(qwen2_config(shape, tok))).to(torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return n_params


def _cut(tok: Any, text: str, n: int) -> str:
    """The start of ``text`` that tokenises to about ``n`` tokens."""
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    return text if len(offsets) <= n else text[: offsets[max(n, 1) - 1][1]]


def _length(tok: Any, msgs: list[dict[str, str]]) -> int:
    text = tok.apply_chat_template(msgs, tokenize=False)
    return len(tok(text, add_special_tokens=False)["input_ids"])


def _fit(tok: Any, prompt: list[dict[str, str]], reply: str, target: int) -> str:
    """The start of ``reply`` that makes the conversation at most ``target`` tokens long."""

    def length(content: str) -> int:
        return _length(tok, [*prompt, {"role": "assistant", "content": content}])

    reply = _cut(tok, reply, target - length(""))
    while " " in reply and length(reply) > target:
        reply = reply.rsplit(" ", 1)[0]  # the cut split a word differently: drop it
    return reply


def synthetic_rows(tok: Any, seq: int, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` conversations: a user turn of ``seq``/6 tokens and a reply that fills the
    conversation to ``seq``·0.94–1 tokens, with a second, different reply of the same length
    for the DPO pairs."""
    rng = random.Random(seed)
    words = _words(random.Random(seed))
    rows = []
    for i in range(n):
        target = rng.randint(int(seq * 0.94), seq)
        prompt = [{"role": "user", "content": _cut(tok, _text(rng, words, seq), seq // 6)}]
        chosen = _fit(tok, prompt, _text(rng, words, seq), target)
        rejected = _fit(tok, prompt, _text(rng, words, seq), target)
        rows.append({"id": f"c{i}", "prompt": prompt, "chosen": chosen, "rejected": rejected})
    return rows


def write_data(rows: list[dict[str, Any]], work: Path) -> None:
    """Demonstrations and comparisons in valign's own file formats."""
    with (work / "demos.jsonl").open("w") as fh:
        for r in rows:
            reply = {"role": "assistant", "content": r["chosen"]}
            fh.write(json.dumps({"messages": [*r["prompt"], reply]}) + "\n")
    with (work / "prefs.jsonl").open("w") as fh:
        for r in rows:
            fh.write(json.dumps({**r, "source": "rule"}) + "\n")


# --- one arm, in its own process ----------------------------------------------------------


def _trainer(spec: dict[str, Any], work: Path) -> Any:
    """The arm's trainer, as its library's defaults configure it."""
    from valign.records.comparisons import load_comparisons
    from valign.train.dpo import dpo_rows
    from valign.train.sft import load_demonstrations

    method, arm, model = spec["method"], spec["arm"], spec["model"]
    data = Path(spec["data"])
    rows_needed = spec["batch_rows"]
    if method == "grpo":
        return _grpo_trainer(spec, work)
    if method == "sft":
        rows: Any = load_demonstrations(data / "demos.jsonl")[:rows_needed]
    else:
        rows = load_comparisons(data / "prefs.jsonl")[:rows_needed]
    batch: dict[str, Any] = {}
    if spec["batch"] is not None:
        batch = {"batch_size": spec["batch"], "grad_accum": spec["accum"]}
    if arm == "valign":
        return _valign_trainer(method, model, rows, work, spec, batch)
    trl_rows = dpo_rows(rows) if method == "dpo" else rows
    return _trl_trainer(method, model, trl_rows, work, spec["seq"], batch)


def _valign_trainer(
    method: str, model: str, rows: Any, work: Path, spec: dict[str, Any], batch: dict[str, Any]
) -> Any:
    from valign.train.dpo import DPOSettings, dpo_trainer
    from valign.train.sft import SFTSettings, sft_trainer

    common = {"max_length": spec["seq"], "max_steps": spec["total_steps"]}
    common |= {"threads": spec["threads"], **batch, **spec["overrides"]}
    if method == "sft":
        return sft_trainer(model, rows, work, SFTSettings(**common))
    return dpo_trainer(model, rows, work, DPOSettings(**common))


def _trl_trainer(
    method: str, model: str, rows: Any, work: Path, seq: int, batch: dict[str, Any]
) -> Any:
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    kw: dict[str, Any] = {"output_dir": str(work / "checkpoints"), "bf16": True, "max_length": seq}
    kw["use_cpu"] = not torch.cuda.is_available()  # --tiny on a CPU
    if batch:
        kw |= {
            "per_device_train_batch_size": batch["batch_size"],
            "gradient_accumulation_steps": batch["grad_accum"],
        }
    tok = AutoTokenizer.from_pretrained(model)
    data = Dataset.from_list(rows)
    if method == "sft":
        return SFTTrainer(model, args=SFTConfig(**kw), train_dataset=data, processing_class=tok)
    return DPOTrainer(model, args=DPOConfig(**kw), train_dataset=data, processing_class=tok)


def _length_reward(completions: list[Any], **kw: Any) -> list[float]:
    """A reward that only needs the text: the rollout's speed is measured, not its learning."""
    return [float(len(str(c))) / 1000 for c in completions]


def _grpo_trainer(spec: dict[str, Any], work: Path) -> Any:
    """GRPO over the demonstrations' prompts: TRL's defaults, or valign's ``rl_trainer``
    with valign's RL defaults; both sample ``completion`` tokens at most per reply."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from valign.train.rl import RLSettings, rl_trainer
    from valign.train.sft import load_demonstrations

    demos = load_demonstrations(Path(spec["data"]) / "demos.jsonl")[: spec["batch_rows"]]
    data = Dataset.from_list([{"prompt": d["prompt"]} for d in demos])
    tok = AutoTokenizer.from_pretrained(spec["model"])
    length = spec["completion"]
    if spec["arm"] == "valign":
        fields = {"max_steps": spec["total_steps"], "max_completion_length": length}
        fields |= {"threads": spec["threads"], **spec["overrides"]}
        if spec["batch"] is not None:
            fields |= {"batch_size": spec["batch"], "grad_accum": spec["accum"]}
        return rl_trainer(spec["model"], tok, data, _length_reward, RLSettings(**fields), work)
    kw: dict[str, Any] = {"output_dir": str(work / "checkpoints"), "bf16": True}
    kw |= {"max_completion_length": length, "use_cpu": not torch.cuda.is_available()}
    if spec["batch"] is not None:
        kw |= {
            "per_device_train_batch_size": spec["batch"],
            "gradient_accumulation_steps": spec["accum"],
        }
    return GRPOTrainer(
        spec["model"],
        reward_funcs=[cast(Any, _length_reward)],
        args=GRPOConfig(**kw),
        train_dataset=data,
        processing_class=tok,
    )


def _generation_timer(cuda: bool) -> dict[str, float]:
    """Time every ``generate`` call (the rollouts) and count the tokens it sampled."""
    from transformers import GenerationMixin

    totals = {"seconds": 0.0, "tokens": 0.0}
    original = GenerationMixin.generate

    def timed(self: Any, *a: Any, **kw: Any) -> Any:
        import torch

        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = original(self, *a, **kw)
        if cuda:
            torch.cuda.synchronize()
        totals["seconds"] += time.perf_counter() - t0
        ids = out if isinstance(out, torch.Tensor) else out.sequences
        prompt = kw.get("input_ids", a[0] if a else None)
        new = ids[:, prompt.shape[1] :] if prompt is not None else ids
        pad = getattr(self.generation_config, "pad_token_id", None)
        totals["tokens"] += float((new != pad).sum()) if pad is not None else new.numel()
        return out

    GenerationMixin.generate = timed  # type: ignore[method-assign]
    return totals


def _clock(warmup: int, cuda: bool, gen: dict[str, float] | None = None) -> Any:
    """A callback that marks the time and the tokens seen at the end of the warm-up and of
    every later step (after waiting for the GPU)."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        start: tuple[float, int] | None = None
        end: tuple[float, int] | None = None
        gen_start: tuple[float, float] = (0.0, 0.0)
        gen_end: tuple[float, float] = (0.0, 0.0)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if cuda:
                import torch

                torch.cuda.synchronize()
            mark = (time.perf_counter(), int(state.num_input_tokens_seen))
            g = (gen["seconds"], gen["tokens"]) if gen is not None else (0.0, 0.0)
            if state.global_step == warmup:
                self.start, self.gen_start = mark, g
            elif state.global_step > warmup:
                self.end, self.gen_end = mark, g

    return StepClock()


def _timed_ref_pass() -> dict[str, float]:
    """Time TRL's pass that precomputes DPO's reference log-probabilities."""
    from trl import DPOTrainer

    seconds = {"ref_s": 0.0}
    original = DPOTrainer._precompute_ref_logps

    def timed(self: Any, *a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        out = original(self, *a, **kw)
        seconds["ref_s"] += time.perf_counter() - t0
        return out

    DPOTrainer._precompute_ref_logps = timed  # type: ignore[method-assign]
    return seconds


def run_arm(spec: dict[str, Any]) -> dict[str, Any]:
    """Build one arm's trainer, train ``warmup + steps`` steps and measure the later ones."""
    import torch
    from transformers.trainer_utils import SaveStrategy

    if spec["threads"] > 0:
        torch.set_num_threads(spec["threads"])
    cuda = torch.cuda.is_available()
    work = Path(spec["work"])
    ref = _timed_ref_pass()
    gen = _generation_timer(cuda) if spec["method"] == "grpo" else None
    t0 = time.perf_counter()
    trainer = _trainer(spec, work)
    setup_s = time.perf_counter() - t0
    args = trainer.args
    # The harness: a fixed number of steps, no checkpoints, a token count (trackers are off
    # by default in both libraries).
    args.max_steps = spec["total_steps"]
    args.save_strategy = SaveStrategy.NO
    args.include_num_input_tokens_seen = "non_padding"
    clock = _clock(spec["warmup"], cuda, gen)
    trainer.add_callback(clock)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    if clock.start is None or clock.end is None:
        raise RuntimeError("training stopped before the measured steps")
    seconds = clock.end[0] - clock.start[0]
    tokens = clock.end[1] - clock.start[1]
    rollout: dict[str, Any] = {}
    if gen is not None:
        # GRPO: the rate is the sampled tokens over the time spent sampling them; the step
        # rate (sampled tokens over the whole step: rollout, scoring and update) beside it.
        gen_s = clock.gen_end[0] - clock.gen_start[0]
        tokens = int(clock.gen_end[1] - clock.gen_start[1])
        rollout = {"rollout_s": gen_s, "step_tokens_per_s": tokens / seconds}
        rollout["vllm"] = bool(getattr(args, "use_vllm", False))
        seconds = gen_s
    rows_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
    share = spec["steps"] * rows_per_step / max(1, len(trainer.train_dataset))
    param = next(trainer.model.parameters())
    return {
        "method": spec["method"],
        "arm": spec["arm"],
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "batch": args.per_device_train_batch_size,
        "grad_accum": args.gradient_accumulation_steps,
        "activation_checkpointing": bool(args.activation_checkpointing),
        "liger": bool(args.use_liger_kernel),
        "param_dtype": str(param.dtype).removeprefix("torch."),
        "attn_implementation": str(trainer.model.config._attn_implementation),
        "measured_steps": spec["steps"],
        "seconds": seconds,
        "tokens": tokens,
        "tokens_per_s": tokens / seconds,
        "ref_s": ref["ref_s"],
        "tokens_per_s_with_ref": tokens / (seconds + ref["ref_s"] * min(1.0, share)),
        "setup_s": setup_s,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        **rollout,
    }


def _worker(spec_json: str, result: Path) -> int:
    import torch

    spec = json.loads(spec_json)
    try:
        out = run_arm(spec)
    except torch.cuda.OutOfMemoryError as exc:
        print(f"out of GPU memory: {exc}", file=sys.stderr)
        return OOM_EXIT
    result.write_text(json.dumps(out))
    return 0


# --- the driver ---------------------------------------------------------------------------


def default_batch(method: str, arm: str, overrides: dict[str, Any]) -> tuple[int, int]:
    """(rows per device, accumulation steps) of an arm's defaults."""
    if arm == "valign":
        from valign.train.dpo import DPOSettings
        from valign.train.rl import RLSettings
        from valign.train.sft import SFTSettings

        settings = {"sft": SFTSettings, "dpo": DPOSettings, "grpo": RLSettings}[method]
        s = settings(**overrides)
        return s.batch_size, s.grad_accum
    return 8, 1  # TRL's per_device_train_batch_size and gradient_accumulation_steps


def run_one(spec: dict[str, Any], work: Path) -> dict[str, Any]:
    """One arm in a fresh process; halve the rows per device after running out of memory."""
    spec = {**spec, "batch": None, "accum": None}
    while True:
        name = f"{spec['method']}-{spec['arm']}"
        run_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
        result = run_dir / "result.json"
        cmd = [sys.executable, __file__, "--worker", json.dumps({**spec, "work": str(run_dir)})]
        env = {"CUDA_VISIBLE_DEVICES": "0", **os.environ}  # one GPU: TRL refuses DataParallel
        rc = subprocess.call([*cmd, "--result", str(result)], env=env)
        if rc == 0:
            out: dict[str, Any] = json.loads(result.read_text())
            return out
        if rc != OOM_EXIT:
            raise SystemExit(f"{name}: the worker failed (exit status {rc})")
        batch, accum = spec["batch"] or spec["default"][0], spec["accum"] or spec["default"][1]
        if batch <= 1:
            raise SystemExit(f"{name}: out of GPU memory with one row per device")
        spec = {**spec, "batch": batch // 2, "accum": accum * 2}
        print(f"{name}: out of memory; retrying with {spec['batch']} rows per device")


def _overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    import yaml

    out: dict[str, dict[str, Any]] = {m: {} for m in METHODS}
    for item in items:
        key, sep, value = item.partition("=")
        method, dot, field = key.partition(".")
        if not sep or not dot or method not in METHODS:
            raise SystemExit(f"--set {item}: expected METHOD.FIELD=VALUE ({', '.join(METHODS)})")
        out[method][field] = yaml.safe_load(value)
    return out


def markdown(results: list[dict[str, Any]], n_params: int, peak: float | None) -> str:
    head = (
        "| method | arm | rows × accum | tokens/s | MFU | × trl-default | tokens/s with ref. "
        "| peak memory GiB | weights | act. ckpt | liger |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    base = {r["method"]: r["tokens_per_s"] for r in results if r["arm"] == "trl-default"}
    lines = [head]
    for r in results:
        u = mfu(r["tokens_per_s"], n_params, peak) if r["method"] != "grpo" else None
        ratio = r["tokens_per_s"] / base[r["method"]] if r["method"] in base else None
        mem = r["peak_memory_gib"]
        lines.append(
            f"| {r['method']} | {r['arm']} | {r['batch']} × {r['grad_accum']} "
            f"| {r['tokens_per_s']:,.0f} | {'' if u is None else f'{100 * u:.1f}%'} "
            f"| {'' if ratio is None else f'{ratio:.2f}'} | {r['tokens_per_s_with_ref']:,.0f} "
            f"| {'' if mem is None else f'{mem:.1f}'} | {r['param_dtype']} "
            f"| {'yes' if r['activation_checkpointing'] else 'no'} "
            f"| {'yes' if r['liger'] else 'no'} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/throughput"))
    ap.add_argument("--methods", default="sft,dpo", help="Comma-separated: sft, dpo, grpo.")
    ap.add_argument("--arms", default="trl-default,valign", help="Comma-separated arms.")
    ap.add_argument("--steps", type=int, default=20, help="Measured optimiser steps.")
    ap.add_argument("--warmup", type=int, default=5, help="Steps before the clock starts (≥ 1).")
    ap.add_argument("--seq", type=int, default=None, help="Sequence length (1,024; tiny: 128).")
    ap.add_argument(
        "--completion", type=int, default=256, help="GRPO: longest sampled reply in tokens."
    )
    ap.add_argument("--peak-tflops", type=float, default=None, help="Peak dense bf16 TFLOP/s.")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default).")
    ap.add_argument(
        "--set", action="append", default=[], help="A valign setting, e.g. sft.packing=true."
    )
    ap.add_argument("--tiny", action="store_true", help="A small shape that runs on a CPU.")
    ap.add_argument("--work", type=Path, default=None, help="Folder for the model and runs (kept).")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return _worker(a.worker, a.result)

    methods = [m for m in a.methods.split(",") if m]
    arms = [x for x in a.arms.split(",") if x]
    unknown = sorted(set(methods) - set(METHODS)) + sorted(set(arms) - set(ARMS))
    if unknown or a.warmup < 1 or a.steps < 1:
        raise SystemExit(f"bad arguments: {unknown or 'need --warmup >= 1 and --steps >= 1'}")
    shape = TINY if a.tiny else QWEN25_05B
    if a.seq:
        shape = Shape(**{**asdict(shape), "seq": a.seq})
    overrides = _overrides(a.set)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    work = a.work or Path(tempfile.mkdtemp(prefix="valign-throughput-"))
    model_dir = work / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    n_params = build_model(shape, model_dir)
    batches = {(m, x): default_batch(m, x, overrides[m]) for m in methods for x in arms}
    per_step = {k: b * g for k, (b, g) in batches.items()}
    total = a.warmup + a.steps
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    write_data(synthetic_rows(tok, shape.seq, total * max(per_step.values())), work)
    print(f"model: Qwen2 {shape}, {n_params:,} parameters; data in {work}", flush=True)

    results = []
    for method in methods:
        for arm in arms:
            spec = {
                "method": method,
                "arm": arm,
                "model": str(model_dir),
                "data": str(work),
                "seq": shape.seq,
                "warmup": a.warmup,
                "steps": a.steps,
                "total_steps": total,
                "threads": a.threads,
                "completion": a.completion,
                "overrides": overrides[method] if arm == "valign" else {},
                "default": batches[(method, arm)],
                "batch_rows": total * per_step[(method, arm)],
            }
            results.append(run_one(spec, work))
            r = results[-1]
            print(f"{method} {arm}: {r['tokens_per_s']:,.0f} tokens/s", flush=True)

    device = results[0]["device"] if results else "none"
    peak = a.peak_tflops * 1e12 if a.peak_tflops else peak_flops(device)
    for r in results:
        r["mfu"] = mfu(r["tokens_per_s"], n_params, peak) if r["method"] != "grpo" else None
    table = markdown(results, n_params, peak)
    print(f"\n{device}, peak {'unknown' if peak is None else f'{peak / 1e12:.0f} TFLOP/s'}\n")
    print(table)
    a.out.mkdir(parents=True, exist_ok=True)
    record = {
        "shape": asdict(shape),
        "n_params": n_params,
        "flops_per_token": train_flops_per_token(n_params),
        "device": device,
        "peak_flops": peak,
        "warmup": a.warmup,
        "steps": a.steps,
        "overrides": overrides,
        "versions": _versions(),
        "results": results,
    }
    (a.out / "train_throughput.json").write_text(json.dumps(record, indent=2))
    if a.work is None:
        shutil.rmtree(work, ignore_errors=True)  # the model and the runs' folders
    return 0


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "transformers", "trl", "accelerate", "liger-kernel", "flash-attn"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


if __name__ == "__main__":
    raise SystemExit(main())
