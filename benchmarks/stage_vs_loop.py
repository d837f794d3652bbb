"""Each training stage of ``valign demo`` beside a plain PyTorch loop, on a CPU.

    python benchmarks/stage_vs_loop.py --run runs/demo --out runs/stage-vs-loop \\
        [--stages pretrain,sft,reward,dpo] [--warmup 3] [--steps 10] [--repeats 3] \\
        [--threads 1] [--extra sft-grouped,...] [--config demo.yaml] [--no-full-setup] \\
        [--profile cprofile|torch]
    python benchmarks/stage_vs_loop.py --run RUN --tiny     # a smoke run of the script

``--run`` is a finished ``valign demo`` run folder: it needs ``world/`` (corpus.jsonl,
sft.jsonl, preferences.jsonl) and ``pretrain/model/``. Every stage trains from the base
model in ``pretrain/model`` (the demo's reward, cost and DPO stages start from the SFT
model: the same architecture, so the same speed). The settings are the demo's
(``DemoConfig``: ``pretrain``, ``align.sft``, ``align.reward``, ``align.dpo``; ``--config``
changes them as it does for ``valign demo``), with harness changes that leave the work of a
step alone: ``max_steps`` = warm-up + measured steps, ``threads`` = ``--threads`` (one by
default, in every arm: the machine is shared), no checkpoints, and the logging interval of
the demo's full-length run.

Arms, on the same model and the same batches:

    valign   the function the demo's stage calls (``pretrain``, ``sft_step``,
             ``reward_step`` for the reward model, ``dpo_step``), with the demo's progress
             bar (drawn to a null terminal). A callback marks the time at the start of
             training and at the end of every optimiser step, and counts the non-padding
             input tokens with the Trainer's own counter.
    loop     the same Hugging Face model class loaded from the same folder, AdamW (the
             fused one, the Trainer's default), forward + loss + backward + step and nothing
             else, over the batches the valign arm's own data loader yields (copied from it
             before its training starts: the same rows, padding and lengths; ``tokens_match``
             checks that both arms counted the same tokens step by step). Losses: the model's
             causal-LM loss (pretraining; SFT with TRL's labels, masked to the replies); the
             pairwise Bradley-Terry loss with valign's centring term on a one-score head
             (reward); the sigmoid DPO loss against the reference log-probabilities TRL
             computed before training (as valign does by default: ``precompute_ref``).

Extra arms (``--extra``), each the valign arm with one change:

    sft-grouped, reward-grouped, dpo-grouped
             the Trainer's length-grouped sampler (``train_sampling_strategy:
             group_by_length``): rows of similar length share a batch, so little of it is
             padding. The preference datasets get the ``length`` column it reads. It sorts
             each quarter of the data (at most 50 batches) by length, so these arms read the
             whole data file; their measured steps are the first group's longer batches.
    sft-compact-head, dpo-compact-head
             TRL's fused LM head scores only the positions that have a label, as it does
             where Triton runs, instead of every position (prompt and padding included) as
             it does on a CPU.
    sft-packing
             valign's ``packing: true`` (packed, padding-free rows).

The stage's data: a first run of the valign arm on the whole data file stops after one step
and gives the time before the first step (reading and tokenising the data, loading the
model, DPO's reference pass; pretraining fits its tokenizer there, as the demo does) and
after the last (export; the reward model's held-out scoring): what a user waits for besides
the steps. The measured runs read an evenly spaced sample of the file, as many records as
their steps take, so that each costs seconds, not minutes, to set up.

Measured over the steps after ``--warmup``, in ``--repeats`` rounds that run a stage's arms
one after the other (valign, loop, extras; valign, loop, extras; ...) so that a change of
load on a shared machine hits every arm alike: tokens/s (non-padding tokens of the trained
sequences per second; reward and DPO count the chosen and the rejected ones) and step time
(end of one step to the end of the next: data loading and logging included). Figures are
medians over the rounds; "loop / arm" is the median of each round's ratio of the loop's
tokens/s to the arm's. ``--profile`` runs each valign arm (and extra arm) once more under
cProfile (Python functions) or torch.profiler (operators) over its measured steps and
writes the top entries to ``OUT/profile-ARM.txt``.

Online RL is not compared: a GRPO step samples 64 replies token by token and scores them
with the reward model, the cost model and the guard's rules before its one update, so a
plain loop would have to re-implement sampling and the reward pipeline, and the tokens/s of
the update would not describe the step.

Writes ``OUT/stage_vs_loop.json`` and prints a markdown table. The default run takes about
10 minutes on two shared cores, 2 of them DPO's reference pass over the whole comparison
file (``--no-full-setup`` skips the whole-file runs). ``--tiny``: one round of 2 measured
steps after 1 warm-up step, which checks the script, not the speed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

STAGES = ("pretrain", "sft", "reward", "dpo")
EXTRAS = (
    "sft-grouped",
    "reward-grouped",
    "dpo-grouped",
    "sft-compact-head",
    "dpo-compact-head",
    "sft-packing",
)
NO_SAVE = 10**9  # a checkpoint interval no run reaches
Steps = list[list[dict[str, Any]]]  # the data-loader batches of each optimiser step


# --- the run folder and the settings ------------------------------------------------------


def require_run(run: Path) -> dict[str, Path]:
    """The demo run's inputs; a clear error when ``valign demo`` has not made them."""
    paths = {
        "corpus": run / "world" / "corpus.jsonl",
        "sft": run / "world" / "sft.jsonl",
        "preferences": run / "world" / "preferences.jsonl",
        "model": run / "pretrain" / "model",
    }
    missing = [
        str(p) for k, p in paths.items() if not (p / "config.json" if k == "model" else p).exists()
    ]
    if missing:
        raise SystemExit(
            f"{run} is not a finished demo run (missing: {', '.join(missing)}). "
            f"Make one with `valign demo --out {run}` (the world and pretrain stages suffice)."
        )
    return paths


def sample_lines(src: Path, dst: Path, n: int) -> int:
    """Every k-th line of ``src``, ``n`` of them (all when ``n`` is 0 or the file is short),
    so that the sample has the file's mixture of kinds."""
    lines = [line for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    if 0 < n < len(lines):
        lines = lines[:: len(lines) // n][:n]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return len(lines)


def rows_needed(stage: str, settings: Any, total_steps: int, paths: dict[str, Path]) -> int:
    """Records of the stage's file that its steps read (with a margin: the reward model
    holds 10% out; pretraining packs documents of a few dozen tokens into blocks)."""
    if stage == "pretrain":
        tokens = total_steps * settings.batch_size * settings.seq_len
        head = paths["corpus"].read_text(encoding="utf-8").splitlines()[:500]
        chars = sum(len(line) for line in head) / max(1, len(head))
        return int(1.5 * tokens * 4 / max(1.0, chars)) + 1  # at least 1 token per 4 chars
    rows = total_steps * settings.batch_size * settings.grad_accum
    return int(rows / (1 - settings.heldout)) + 1 if stage == "reward" else rows


def limited_paths(
    stage: str, settings: Any, total_steps: int, paths: dict[str, Path], work: Path
) -> dict[str, Path]:
    """The run's inputs with the stage's data file cut to the records its steps read."""
    key = {"pretrain": "corpus", "reward": "preferences", "dpo": "preferences"}.get(stage, "sft")
    out = dict(paths)
    out[key] = work / f"data-{stage}" / paths[key].name
    sample_lines(paths[key], out[key], rows_needed(stage, settings, total_steps, paths))
    return out


def demo_settings(config: Path | None) -> Any:
    """``DemoConfig``: the demo's defaults, or those of a YAML file as ``valign demo --config``."""
    from valign.pipeline import DemoConfig

    return DemoConfig.load(config)


def split_arm(arm: str) -> tuple[str, str]:
    """``sft-grouped`` -> (``sft``, ``grouped``); ``sft`` -> (``sft``, ``""``)."""
    stage, _, variant = arm.partition("-")
    return stage, variant


def stage_settings(cfg: Any, arm: str, total_steps: int, threads: int) -> Any:
    """The stage's settings in the demo, with the harness's step count, threads and no
    checkpoints (a save interval the run never reaches); ``packing`` for that variant."""
    stage, variant = split_arm(arm)
    harness = {"max_steps": total_steps, "threads": threads, "save_steps": NO_SAVE}
    if stage == "pretrain":
        return cfg.pretrain.model_copy(update=harness)
    base = {"sft": cfg.align.sft, "reward": cfg.align.reward, "dpo": cfg.align.dpo}[stage]
    s = base.model_copy(update=harness)
    return s.model_copy(update={"packing": True}) if variant == "packing" else s


def check_architecture(cfg: Any, model_dir: Path) -> None:
    """The pretrain arm builds its model from the settings; the loop loads the folder's:
    they must be the same shape."""
    config = json.loads((model_dir / "config.json").read_text())
    p = cfg.pretrain
    want = {
        "hidden_size": p.hidden_size,
        "intermediate_size": p.intermediate_size,
        "num_hidden_layers": p.num_layers,
        "num_attention_heads": p.num_heads,
    }
    wrong = {k: (v, config.get(k)) for k, v in want.items() if config.get(k) != v}
    if wrong:
        raise SystemExit(f"{model_dir} is not the model of these pretrain settings: {wrong}")


# --- the clock ----------------------------------------------------------------------------


def _set_epoch(loader: Any, epoch: int) -> None:
    """As the Trainer does at the start of an epoch (it reaches the shard's sampler too)."""
    if hasattr(loader, "set_epoch"):
        loader.set_epoch(epoch)
    inner: Any = getattr(getattr(loader, "batch_sampler", None), "batch_sampler", None)
    if inner is not None and hasattr(inner, "set_epoch"):
        inner.set_epoch(epoch)


def harvest(loader: Any, steps: int, accum: int) -> tuple[Steps, dict[str, int]]:
    """The batches of the first ``steps`` optimiser steps the Trainer's data loader yields,
    ``accum`` data-loader batches a step (fewer at the end of an epoch, as the Trainer
    takes them; whole epochs are read so that no iterator is left half-way), and the
    non-padding tokens and the positions of its first whole epoch."""
    import torch

    out: Steps = []
    epoch_one = {"tokens": 0, "positions": 0}
    epoch = 0
    while len(out) < steps:
        _set_epoch(loader, epoch)
        before = len(out)
        taking = True
        for i, batch in enumerate(loader):
            if epoch == 0:
                epoch_one["tokens"] += count_tokens(batch)
                epoch_one["positions"] += int(batch["input_ids"].numel())
            if i % accum == 0:  # the first batch of a step
                taking = len(out) < steps
                if taking:
                    out.append([])
            if taking:
                out[-1].append(
                    {k: v.detach().clone() if torch.is_tensor(v) else v for k, v in batch.items()}
                )
        if len(out) == before:
            raise RuntimeError("the data loader yielded no batch")
        epoch += 1
    _set_epoch(loader, 0)
    return out, epoch_one


def clock_callback(arm: str, settings: Any, take: int, profile: str, one_step: bool) -> Any:
    """A TrainerCallback that switches checkpoints off, counts non-padding input tokens,
    keeps the demo's logging interval, marks the time at the start of training and at the
    end of every step, takes ``take`` batches from the data loader before training starts,
    profiles the steps after the warm-up when asked, and with ``one_step`` stops after the
    first step. The ``grouped`` variant batches rows of similar length together."""
    stage, variant = split_arm(arm)
    from transformers import TrainerCallback
    from transformers.trainer_utils import SaveStrategy

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.t_train: float | None = None
            self.begins: list[float] = []
            self.ends: list[tuple[float, int, int]] = []  # (time, step, tokens seen)
            self.batches: Steps = []
            self.epoch_one: dict[str, int] = {}
            self.rows_per_step = 0
            self.warmup = 0
            self.profiler: Any = None
            self.profile_text = ""

        def on_init_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            args.save_strategy = SaveStrategy.NO  # not even the final checkpoint
            # pretraining blocks are all tokens (and have no attention mask to count with)
            args.include_num_input_tokens_seen = "all" if stage == "pretrain" else "non_padding"
            if variant == "grouped":
                args.train_sampling_strategy = "group_by_length"

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t_train = time.perf_counter()
            loader = kw["train_dataloader"]
            state.logging_steps = demo_logging_steps(stage, settings, len(loader))
            self.rows_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
            if take:
                self.batches, self.epoch_one = harvest(
                    loader, take, args.gradient_accumulation_steps
                )
            return control

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.begins.append(time.perf_counter())

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            now = time.perf_counter()
            self.ends.append((now, int(state.global_step), int(state.num_input_tokens_seen)))
            # here, not at the start: the Trainer checks it between micro-batches too
            control.should_training_stop = one_step
            if profile != "none" and state.global_step == self.warmup:
                self.profiler = _start_profiler(profile)
            elif self.profiler is not None and state.global_step >= state.max_steps:
                self.profile_text = _stop_profiler(self.profiler, profile)
                self.profiler = None

    return Clock()


def demo_logging_steps(stage: str, settings: Any, steps_per_epoch: int) -> int:
    """The logging interval of the demo's full run (pretraining's depends on its length)."""
    if stage == "pretrain":
        full = max(1, int(steps_per_epoch * settings.epochs))
        return max(1, min(20, full // 20))
    return 5  # trainer_kwargs: every 5 steps unless max_steps is set to 20 or fewer


def _start_profiler(kind: str) -> Any:
    if kind == "torch":
        import torch

        ops = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
        ops.__enter__()
        return ops
    calls = cProfile.Profile()
    calls.enable()
    return calls


def _stop_profiler(prof: Any, kind: str) -> str:
    if kind == "torch":
        prof.__exit__(None, None, None)
        table: str = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=40)
        return table
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    return out.getvalue()


@contextlib.contextmanager
def timed(targets: list[tuple[Any, str]]) -> Iterator[dict[str, float]]:
    """Seconds spent in each ``(owner, attribute)`` function while inside the block."""
    seconds = {name: 0.0 for _, name in targets}
    saved = [(owner, name, owner.__dict__[name]) for owner, name in targets]

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                seconds[name] += time.perf_counter() - t0

        return inner

    try:
        for owner, name, fn in saved:
            setattr(owner, name, wrap(name, fn))
        yield seconds
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)


@contextlib.contextmanager
def variant_patches(variant: str) -> Iterator[None]:
    """What a variant changes inside TRL for one run.

    ``grouped``: the preference datasets get a ``length`` column (the longer reply's
    conversation), which the Trainer's length-grouped sampler reads (SFT rows have
    ``input_ids``, which it reads by itself), kept through the removal of the columns the
    model does not take. ``compact-head``: TRL's fused LM head scores
    only the positions that have a label, as it does where Triton runs, instead of every
    position (prompt and padding included) as it does on a CPU.
    """
    import trl.trainer.utils as trl_utils
    from trl import DPOTrainer, RewardTrainer

    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, value: Any) -> None:
        saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    def with_length(fn: Callable[..., Any], prompt: bool) -> Callable[..., Any]:
        def prepare(self: Any, *a: Any, **kw: Any) -> Any:
            def length(row: dict[str, Any]) -> dict[str, int]:
                reply = max(len(row["chosen_ids"]), len(row["rejected_ids"]))
                return {"length": reply + (len(row["prompt_ids"]) if prompt else 0)}

            return fn(self, *a, **kw).map(length)

        return prepare

    def keep_length(fn: Callable[..., Any]) -> Callable[..., Any]:
        def columns(self: Any) -> None:
            fn(self)
            self._signature_columns = [*self._signature_columns, "length"]

        return columns

    try:
        if variant == "grouped":
            for trainer in (RewardTrainer, DPOTrainer):
                sig = "_set_signature_columns_if_needed"
                patch(trainer, sig, keep_length(trainer.__dict__[sig]))
            patch(
                RewardTrainer,
                "_prepare_dataset",
                with_length(RewardTrainer._prepare_dataset, False),
            )
            patch(DPOTrainer, "_prepare_dataset", with_length(DPOTrainer._prepare_dataset, True))
        elif variant == "compact-head":
            patch(trl_utils, "_use_triton", lambda device: True)
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def _setup_targets() -> list[tuple[Any, str]]:
    """The phases inside the time before the first step: fitting the tokenizer and
    tokenising the data, DPO's reference pass (reading the files, loading the model and
    building the trainer are the rest)."""
    import importlib

    from trl import DPOTrainer, RewardTrainer, SFTTrainer

    # The module, not the function of the same name that the valign.train face exports.
    pt = importlib.import_module("valign.train.pretrain")

    return [
        (pt, "fit_tokenizer"),
        (pt, "pack_corpus"),
        (SFTTrainer, "_prepare_dataset"),
        (RewardTrainer, "_prepare_dataset"),
        (DPOTrainer, "_prepare_dataset"),
        (DPOTrainer, "_precompute_ref_logps"),
    ]


# --- the valign arm -----------------------------------------------------------------------


def run_stage(
    stage: str, paths: dict[str, Path], cfg: Any, settings: Any, out: Path, fit: bool = False
) -> None:
    """What the demo's stage calls, with the demo's progress bar (to a null terminal).
    Pretraining fits its tokenizer when ``fit`` (as the demo does), and otherwise takes the
    base model's, so that the vocabulary is the loop's."""
    from rich.console import Console

    from valign.models.progress import steps_bar
    from valign.records.comparisons import load_comparisons
    from valign.train.align import dpo_step, reward_step, sft_step
    from valign.train.pretrain import pretrain

    model = paths["model"]
    null = Console(file=open(os.devnull, "w"), force_terminal=True)  # noqa: SIM115
    with steps_bar(stage, null) as on_step:
        if stage == "pretrain":
            tok = out / "tokenizer"
            tok.mkdir(parents=True)
            for f in model.iterdir():
                if not fit and (f.name.startswith("tokenizer") or f.name.endswith(".jinja")):
                    shutil.copy(f, tok / f.name)
            pretrain(paths["corpus"], out, settings, on_step=on_step)
        elif stage == "sft":
            sft_step(
                model, paths["sft"], cfg.align.model_copy(update={"sft": settings}), out, on_step
            )
        elif stage == "reward":
            rows = load_comparisons(paths["preferences"])
            reward_step(model, rows, settings, "reward", out, on_step)
        else:
            rows = load_comparisons(paths["preferences"])
            dpo_step(model, rows, cfg.align.model_copy(update={"dpo": settings}), out, on_step)
    null.file.close()


def valign_arm(
    arm: str,
    paths: dict[str, Path],
    cfg: Any,
    warmup: int,
    steps: int,
    threads: int,
    work: Path,
    take: int = 0,
    profile: str = "none",
    one_step: bool = False,
) -> tuple[dict[str, Any], Steps, str]:
    """One run of the stage (``arm``: the stage, or stage-variant); returns its figures, the
    batches taken, and a profile. With ``one_step`` it stops after its first step: only the
    time before and after counts."""
    from transformers import trainer as hf_trainer

    settings = stage_settings(cfg, arm, warmup + steps, threads)
    clock = clock_callback(arm, settings, take, profile, one_step)
    clock.warmup = warmup
    out = Path(tempfile.mkdtemp(prefix=f"{arm}-", dir=work))
    hf_trainer.DEFAULT_CALLBACKS.append(clock)  # every Trainer built inside gets the clock
    try:
        with variant_patches(split_arm(arm)[1]), timed(_setup_targets()) as phases:
            t0 = time.perf_counter()
            run_stage(split_arm(arm)[0], paths, cfg, settings, out, fit=one_step)
            t_end = time.perf_counter()
    finally:
        hf_trainer.DEFAULT_CALLBACKS.remove(clock)
        shutil.rmtree(out, ignore_errors=True)
    ends = clock.ends
    if clock.t_train is None or not ends:
        raise RuntimeError(f"{arm}: training did not start")
    around = {
        "setup_s": clock.t_train - t0,
        "data_s": sum(v for k, v in phases.items() if k != "_precompute_ref_logps"),
        "ref_s": phases["_precompute_ref_logps"],
        "after_s": t_end - ends[-1][0],
        "phases_s": dict(phases),
    }
    if one_step:
        return around, [], ""
    if len(ends) < warmup + steps:
        raise RuntimeError(f"{arm}: training stopped before the measured steps")
    (t_a, _, tok_a), (t_b, _, tok_b) = ends[warmup - 1], ends[warmup + steps - 1]
    gaps = [ends[i][0] - ends[i - 1][0] for i in range(warmup, warmup + steps)]
    compute = [ends[i][0] - clock.begins[i] for i in range(warmup, warmup + steps)]
    result = {
        "seconds": t_b - t_a,
        "tokens": tok_b - tok_a,
        "tokens_per_s": (tok_b - tok_a) / (t_b - t_a),
        "step_s": (t_b - t_a) / steps,
        "step_s_median": statistics.median(gaps),
        "inside_step_s_median": statistics.median(compute),  # on_step_begin to on_step_end
        "tokens_per_step": (tok_b - tok_a) / steps,
        "step_tokens": [ends[i][2] - ends[i - 1][2] for i in range(warmup, warmup + steps)],
        "rows_per_step": clock.rows_per_step,
        **around,
    }
    if clock.epoch_one:
        result["epoch_padding_share"] = 1 - clock.epoch_one["tokens"] / clock.epoch_one["positions"]
    return result, clock.batches, clock.profile_text


# --- the loop arm -------------------------------------------------------------------------


def load_model(stage: str, model_dir: Path) -> Any:
    """The model class the stage trains, from the base model's folder."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if stage == "reward":
        return AutoModelForSequenceClassification.from_pretrained(
            model_dir, num_labels=1, dtype="auto"
        )
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto")


def loss_fn(stage: str, settings: Any) -> Callable[[Any, dict[str, Any]], Any]:
    """The stage's loss on one batch, written as a plain training loop writes it."""
    import torch
    import torch.nn.functional as F

    def causal_lm(model: Any, b: dict[str, Any]) -> Any:
        keys = ("input_ids", "attention_mask", "position_ids", "labels")
        return model(**{k: b[k] for k in keys if k in b}).loss

    def pairwise(model: Any, b: dict[str, Any]) -> Any:
        scores = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        chosen, rejected = scores.squeeze(-1).chunk(2)  # (pairs,) each: chosen rows first
        loss = -F.logsigmoid(chosen - rejected).mean()
        if settings.center:
            loss = loss + settings.center * ((chosen + rejected) ** 2).mean()
        return loss

    def dpo(model: Any, b: dict[str, Any]) -> Any:
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (2·pairs, seq-1, vocab)
        target = b["input_ids"][:, 1:].unsqueeze(-1)
        token_logp = logp.gather(-1, target).squeeze(-1) * b["completion_mask"][:, 1:]
        chosen, rejected = token_logp.sum(-1).chunk(2)
        margin = (chosen - b["ref_chosen_logps"]) - (rejected - b["ref_rejected_logps"])
        return -F.logsigmoid(settings.beta * margin).mean()

    if stage == "reward":
        return pairwise
    if stage == "dpo":
        return dpo
    return causal_lm


def count_tokens(b: dict[str, Any]) -> int:
    """Non-padding input tokens of a batch, as the Trainer counts them."""
    if "attention_mask" in b:
        return int(b["attention_mask"].sum())
    return int(b["input_ids"].numel())  # packed pretraining blocks and padding-free rows


def loop_arm(
    stage: str, model_dir: Path, settings: Any, groups: Steps, warmup: int
) -> dict[str, Any]:
    """AdamW, forward + loss + backward + step over the batches of each step (the valign
    arm's, averaged over the step's batches as the Trainer does); nothing else."""
    import torch

    torch.manual_seed(0)
    model = load_model(stage, model_dir)
    model.train()
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=settings.learning_rate,
        weight_decay=settings.weight_decay,
        fused=True,
    )
    compute = loss_fn(stage, settings)
    ends: list[float] = []
    for group in groups:
        for b in group:
            loss = compute(model, b) / len(group)
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        ends.append(time.perf_counter())
    steps = len(groups) - warmup
    tokens = sum(count_tokens(b) for g in groups[warmup:] for b in g)
    seconds = ends[-1] - ends[warmup - 1]
    return {
        "seconds": seconds,
        "tokens": tokens,
        "tokens_per_s": tokens / seconds,
        "step_s": seconds / steps,
        "step_s_median": statistics.median(ends[i] - ends[i - 1] for i in range(warmup, len(ends))),
        "tokens_per_step": tokens / steps,
        "step_tokens": [sum(count_tokens(b) for b in g) for g in groups[warmup:]],
        "param_dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "attn_implementation": str(model.config._attn_implementation),
    }


def batch_shape(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows and padded lengths of the batches the arms train on."""
    lengths = [int(b["input_ids"].shape[1]) for b in batches]
    tokens = sum(count_tokens(b) for b in batches)
    cells = sum(int(b["input_ids"].numel()) for b in batches)
    return {
        "rows": int(batches[0]["input_ids"].shape[0]),
        "padded_length_min": min(lengths),
        "padded_length_max": max(lengths),
        "padded_length_median": statistics.median(lengths),
        "padding_share": 1 - tokens / cells,
    }


# --- the driver ---------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    import torch

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "versions": {p: version(p) for p in ("torch", "transformers", "trl", "accelerate")},
    }


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def summarise(stage: str, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the rounds; loop/arm as the median of each round's ratio."""
    out: dict[str, Any] = {"stage": stage, "arms": {}}
    loop = runs["loop"]
    for arm, rs in runs.items():
        m = {k: _median(rs, k) for k in ("tokens_per_s", "step_s", "tokens_per_step")}
        if arm != "loop":
            m["inside_step_s"] = _median(rs, "inside_step_s_median")
            m["setup_s"] = _median(rs, "setup_s")
            if "epoch_padding_share" in rs[0]:
                m["epoch_padding_share"] = rs[0]["epoch_padding_share"]
            ratios = [
                lp["tokens_per_s"] / r["tokens_per_s"] for lp, r in zip(loop, rs, strict=True)
            ]
            m["loop_over_arm"] = float(statistics.median(ratios))
            m["tokens_match"] = all(
                r["step_tokens"] == lp["step_tokens"] for lp, r in zip(loop, rs, strict=True)
            )
        out["arms"][arm] = m
    return out


def markdown(
    summaries: list[dict[str, Any]], shapes: dict[str, dict[str, Any]], full: dict[str, Any]
) -> str:
    lines = [
        "| stage | arm | rows × padded length (padding) | tokens/step | tokens/s | step s "
        "| **loop / arm** | before 1st step s (data; ref. pass) | after last step s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        f = full.get(s["stage"])
        for arm, m in s["arms"].items():
            shape = shapes[s["stage"]]["valign" if arm == "loop" else arm]
            ratio = f"**{m['loop_over_arm']:.2f}**" if "loop_over_arm" in m else ""
            before = after = ""
            if arm == "valign" and f is not None:
                ref = f"; {f['ref_s']:.1f}" if f["ref_s"] else ""
                before = f"{f['setup_s']:.1f} ({f['data_s']:.1f}{ref})"
                after = f"{f['after_s']:.1f}"
            rows = (
                f"{shape['rows']} × {shape['padded_length_median']:.0f} "
                f"({shape['padded_length_min']}–{shape['padded_length_max']}; "
                f"{100 * shape['padding_share']:.0f}%)"
            )
            lines.append(
                f"| {s['stage']} | {arm} | {rows} | {m['tokens_per_step']:,.0f} "
                f"| {m['tokens_per_s']:,.0f} | {m['step_s']:.3f} | {ratio} | {before} | {after} |"
            )
    return "\n".join(lines)


def bench_stage(
    stage: str, paths: dict[str, Path], cfg: Any, a: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """The time before and after training on the full data (one step), then ``a.repeats``
    rounds of the arms on the records the steps read: valign, loop, extras; valign, ..."""
    total = a.warmup + a.steps
    settings = stage_settings(cfg, stage, total, a.threads)
    arm = {"cfg": cfg, "warmup": a.warmup, "steps": a.steps, "threads": a.threads, "work": work}
    full = None
    if not a.no_full_setup:
        full = valign_arm(stage, paths, **arm, one_step=True)[0]
        print(
            f"{stage}: {full['setup_s']:.1f} s before the first step on the full data", flush=True
        )
    extras = [x for x in a.extra if x.startswith(f"{stage}-")]
    runs: dict[str, list[dict[str, Any]]] = {"valign": [], "loop": [], **{x: [] for x in extras}}
    data = limited_paths(stage, settings, total, paths, work)
    batches: dict[str, Steps] = {}  # each arm's, from its first round
    for r in range(a.repeats):
        for x in ["valign", *extras]:
            # the length-grouped sampler sorts groups of up to 50 batches, which a sample of
            # the rows the steps read is too small to make: it reads the whole file
            rows = paths if split_arm(x)[1] == "grouped" else data
            result, got, _ = valign_arm(
                stage if x == "valign" else x, rows, **arm, take=0 if r else total
            )
            runs[x].append(result)
            batches[x] = batches.get(x) or got
            if x == "valign":
                loop = loop_arm(stage, paths["model"], settings, batches[x], a.warmup)
                runs["loop"].append(loop)
        line = ", ".join(f"{k} {v[-1]['tokens_per_s']:,.0f}" for k, v in runs.items())
        print(f"{stage} round {r + 1}: tokens/s {line}", flush=True)
    profiles: dict[str, str] = {}  # arm -> the profiler's table
    if a.profile != "none":
        for x in [stage, *extras]:
            rows = paths if split_arm(x)[1] == "grouped" else data
            profiles[x] = valign_arm(x, rows, **arm, profile=a.profile)[2]
    return {
        "full_data": full,
        "runs": runs,
        "shapes": {
            x: batch_shape([m for step in b[a.warmup :] for m in step]) for x, b in batches.items()
        },
        "summary": summarise(stage, runs),
        "profiles": profiles,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="A finished `valign demo` run folder.")
    ap.add_argument("--out", type=Path, default=Path("runs/stage-vs-loop"))
    ap.add_argument("--stages", default=",".join(STAGES), help="Comma-separated stages.")
    ap.add_argument("--steps", type=int, default=10, help="Measured optimiser steps per arm.")
    ap.add_argument("--warmup", type=int, default=3, help="Steps before the clock starts (≥ 1).")
    ap.add_argument("--repeats", type=int, default=3, help="Rounds of the arms, interleaved.")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads in every arm.")
    ap.add_argument("--config", type=Path, default=None, help="The demo's YAML settings file.")
    ap.add_argument("--extra", default="", help=f"Comma-separated extra arms: {', '.join(EXTRAS)}.")
    ap.add_argument(
        "--profile", choices=("none", "cprofile", "torch"), default="none",
        help="Profile each valign arm once more over its measured steps.",
    )  # fmt: skip
    ap.add_argument(
        "--no-full-setup", action="store_true",
        help="Skip the one-step run on the full data that times what comes before training.",
    )  # fmt: skip
    ap.add_argument("--tiny", action="store_true", help="1 warm-up + 2 steps, one round.")
    a = ap.parse_args()
    if a.tiny:
        a.warmup, a.steps, a.repeats = 1, 2, 1
    a.extra = [x for x in a.extra.split(",") if x]
    stages = [s for s in a.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES)) + sorted(set(a.extra) - set(EXTRAS))
    if unknown or a.warmup < 1 or a.steps < 1 or a.repeats < 1 or a.threads < 1:
        raise SystemExit(
            f"bad arguments: {unknown or 'need --warmup, --steps, --repeats, --threads >= 1'}"
        )
    paths = require_run(a.run)
    cfg = demo_settings(a.config)
    if "pretrain" in stages:
        check_architecture(cfg, paths["model"])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(a.threads)
    record: dict[str, Any] = {"machine": machine(), "load_average_before": os.getloadavg()}
    record |= {"warmup": a.warmup, "steps": a.steps, "repeats": a.repeats, "run": str(a.run)}
    record["settings"] = {
        s: stage_settings(cfg, s, a.warmup + a.steps, a.threads).model_dump()
        for s in [*stages, *a.extra]
    }
    a.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="valign-stage-vs-loop-"))
    stage_records = {}
    try:
        for stage in stages:
            rec = bench_stage(stage, paths, cfg, a, work)
            for name, text in rec.pop("profiles").items():
                (a.out / f"profile-{name}.txt").write_text(text)
            stage_records[stage] = rec
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record["load_average_after"] = os.getloadavg()
    record["stages"] = stage_records
    table = markdown(
        [r["summary"] for r in stage_records.values()],
        {k: r["shapes"] for k, r in stage_records.items()},
        {k: r["full_data"] for k, r in stage_records.items() if r["full_data"]},
    )
    m = record["machine"]
    torch_version = m["versions"]["torch"]
    print(f"\n{m['cpu']}, {m['cores']} cores, {a.threads} torch thread(s), torch {torch_version}")
    before = ", ".join(f"{x:.2f}" for x in record["load_average_before"])
    after = ", ".join(f"{x:.2f}" for x in record["load_average_after"])
    print(f"load average before {before}; after {after}\n")
    print(table)
    (a.out / "stage_vs_loop.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
