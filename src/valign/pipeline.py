"""The lifecycle: the main job, composed from the stages.

    world      build the microworld's splits (valign.world.stage) -> world/
    pretrain   tokenizer + base model on the corpus               -> pretrain/model/
    eval_base  scorecard of the base model (valign.evals.stage)   -> eval_base/
    sft, reward, cost, rl   alignment (valign.train.stage)       -> sft/ reward/ cost/ rl/
    cai        RLAIF from the SFT model: AI feedback (opt-in)     -> cai/
    eval_aligned  scorecards of the SFT, RLHF and RLAIF models   -> eval_aligned/
    redteam_base, redteam_aligned  red-team campaigns before and after alignment (opt-in)
    guard      attack success with and without the default guard -> guard/
    interp     per-layer probes of the base model (opt-in)           -> interp/
    data_audit the corpus's audit and datasheet (opt-in)          -> data_audit/
    data_ablation  a base model pretrained on the filtered corpus, scored (opt-in) -> data_ablation/
    report     report.html over every finished stage

The real-model profile (``valign demo --profile smollm2``, :data:`REAL_STAGES`) runs the same
loop on a real chat model and public benchmarks: model, tasks, eval_base, replies, data,
sft, dpo (opt-in), aligned, eval_aligned, then guard, redteam and interp. Every stage
lives in its package's ``stage`` module (``<pkg>/stage.py``), named ``<name>_stage``; the
real profile's are ``real_<name>_stage``.

Every stage is a :class:`valign.stage.Stage`: it gets one :class:`valign.stage.StageContext`
(the run folder, these settings, the console, the seed and the constitution the settings
name, resolved once per run) and returns its summary. Each stage writes its records and a
manifest into its own folder of the run and a ``DONE.json`` marker last; running the
pipeline again skips finished stages and resumes the unfinished one (pretraining from its
last checkpoint, evaluation from its last recorded item).

Configuration precedence, lowest to highest: the defaults below, a YAML file
(``--config``), then command-line options.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console

from valign.cai.settings import CAISettings
from valign.data.stage import data_ablation_stage, data_audit_stage
from valign.evals.stage import (
    eval_base_stage,
    real_eval_aligned_stage,
    real_eval_base_stage,
    real_tasks_stage,
)
from valign.guard.stage import guard_stage, real_guard_stage
from valign.interp.stage import interp_stage, real_interp_stage
from valign.records.runs import RunDir
from valign.redteam.stage import real_redteam_stage, redteam_aligned_stage, redteam_base_stage
from valign.report import render_report
from valign.settings import load_settings
from valign.stage import Stage, StageContext
from valign.train.align import AlignConfig
from valign.train.common import LoraSettings
from valign.train.dpo import DPOSettings
from valign.train.pretrain import PretrainConfig
from valign.train.sft import SFTSettings
from valign.train.stage import (
    cai_stage,
    cost_stage,
    eval_aligned_stage,
    pretrain_stage,
    real_aligned_stage,
    real_data_stage,
    real_dpo_stage,
    real_model_stage,
    real_replies_stage,
    real_sft_stage,
    reward_stage,
    rl_stage,
    sft_stage,
)
from valign.world.splits import WorldConfig
from valign.world.stage import world_stage


class DemoConfig(BaseModel):
    """Settings of the main job on the embedded default (the microworld)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(0, description="Seed of the world and of every training run.")
    constitution: str = Field("default", description="Constitution name or path.")
    overlays: tuple[str, ...] = Field(
        (), description="Overlays composed onto the constitution, in order of precedence."
    )
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    eval_limit: int = Field(0, description="Evaluate only the first N items (0: all).")
    eval_batch_size: int = Field(64, description="Generation batch size for evaluation.")
    corpus_dialogues: int = Field(
        WorldConfig.corpus_dialogues, description="Chat episodes in the pretraining corpus."
    )
    eval_per_kind: int = Field(WorldConfig.eval_per_kind, description="Evaluation items per kind.")
    alignment: bool = Field(
        True, description="Align the base model: SFT, reward and cost models, RL with safety."
    )
    align: AlignConfig = Field(
        default_factory=AlignConfig, description="Settings of the alignment trainers."
    )
    cai: bool = Field(
        False,
        description="RLAIF next to RLHF: an evaluator trained on the first comparisons "
        "scores the SFT model's replies as the reward of online RL (or labels its samples "
        "for DPO: rlaif.method), scored beside RLHF (several minutes on a CPU).",
    )
    rlaif: CAISettings = Field(
        default_factory=lambda: CAISettings(method="direct"),
        description="Settings of the AI-feedback path (the cai stage). Direct RLAIF by "
        "default: from the SFT model it measured at least as well as DPO on the AI labels "
        "and needs no labelling pass (BENCHMARKS.md).",
    )
    interp: bool = Field(
        False,
        description="Probe the base model per layer for the constitution's concepts "
        "(harmful request, misconception, stereotype); about a minute.",
    )
    data_audit: bool = Field(
        False,
        description="Audit the pretraining corpus and write its datasheet (a few minutes: "
        "the guard screens every document).",
    )
    data_ablation: bool = Field(
        False,
        description="Filter the pretraining corpus (microworld policy), pretrain a second base "
        "model on it and score it beside the first (as long as pretraining again, plus the "
        "audit when data_audit is off).",
    )
    guard: bool = Field(
        True,
        description="Measure attack success with and without the default guard "
        "(the guard is built once and cached, about a minute).",
    )
    redteam: bool = Field(
        False,
        description="Run a red-team campaign against the base model (every attack family; "
        "a few minutes on a CPU).",
    )

    @classmethod
    def load(cls, path: Path | None, **overrides: Any) -> DemoConfig:
        """Defaults < the YAML file < command-line options (see ``valign.settings``)."""
        return load_settings(cls, path, **overrides)


def _aligning(cfg: DemoConfig) -> bool:
    return cfg.alignment


STAGES: tuple[tuple[str, Stage], ...] = (
    ("world", world_stage),
    ("pretrain", pretrain_stage),
    ("eval_base", eval_base_stage),
    ("sft", sft_stage),
    ("reward", reward_stage),
    ("cost", cost_stage),
    ("rl", rl_stage),
    ("cai", cai_stage),
    ("eval_aligned", eval_aligned_stage),
    ("redteam_base", redteam_base_stage),
    ("redteam_aligned", redteam_aligned_stage),
    ("guard", guard_stage),
    ("interp", interp_stage),
    ("data_audit", data_audit_stage),
    ("data_ablation", data_ablation_stage),
)
OPTIONAL = {  # stages a setting can switch off
    **{name: _aligning for name in ("sft", "reward", "cost", "rl", "eval_aligned")},
    "guard": lambda cfg: cfg.guard,
    "redteam_base": lambda cfg: cfg.redteam,
    "redteam_aligned": lambda cfg: cfg.redteam and cfg.alignment,
    "cai": lambda cfg: cfg.cai and cfg.alignment,
    "interp": lambda cfg: cfg.interp,
    "data_audit": lambda cfg: cfg.data_audit,
    "data_ablation": lambda cfg: cfg.data_ablation,
}
REDO_AFTER = {  # a stage that runs makes these stale: they read its results
    "cai": ("eval_aligned",),
}


def _lora() -> LoraSettings:
    return LoraSettings(r=16, alpha=32)


class RealRedteamSettings(BaseModel):
    """The real-model profile's red-team campaign."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="Run the campaign stage.")
    per_source: int = Field(
        3, ge=1, description="Harmful test requests per public benchmark used as objectives."
    )
    attacks: tuple[str, ...] = Field(
        ("template", "rephrase"),
        description="Attack names or families (valign redteam --list-attacks).",
    )


class RealInterpSettings(BaseModel):
    """The real-model profile's look inside: per-layer probes, the refusal direction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="Run the interpretability stage.")
    layer: int | None = Field(
        None, ge=0, description="Layer of the refusal direction (default: the best-separating)."
    )
    strengths: tuple[float, ...] = Field(
        (8.0,),
        description="Strengths (class-mean gaps) the base model is steered at, at every "
        "position of the requests its probe flags.",
    )
    ablate: bool = Field(True, description="Ablate the aligned model's refusal direction.")


class RealProfileConfig(BaseModel):
    """Settings of the real-model profile: a real chat model aligned on public data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field("smollm2", description="Packaged model name, model folder or hub id.")
    seed: int = Field(0, description="Seed of every training run.")
    constitution: str = Field("default", description="Constitution name or path.")
    overlays: tuple[str, ...] = Field(
        (), description="Overlays composed onto the constitution, in order of precedence."
    )
    scale: float = Field(
        0.4,
        gt=0,
        description="Share of the public prompt counts used (1.0: 100 test prompts per "
        "harmful benchmark, about 550 train prompts; see valign.guard.real_replies.SOURCES).",
    )
    bbq_test: int = Field(60, ge=0, description="BBQ test items (a capability check).")
    eval_limit: int = Field(0, ge=0, description="Evaluate only the first N test items (0: all).")
    batch_size: int = Field(16, ge=1, description="Generation batch size.")
    max_new_tokens: int = Field(64, ge=1, description="Longest generated reply in tokens.")
    judge: str = Field(
        "guard",
        description="Who decides that a reply refused: 'guard' (the attempt detector, with "
        "the request in view), 'pattern' (the grader's phrases) or a guard folder.",
    )
    threads: int = Field(
        0, ge=0, description="Torch CPU threads (0: the cores other work leaves free)."
    )
    sft: SFTSettings = Field(
        default_factory=lambda: SFTSettings(
            learning_rate=2e-4, epochs=1, batch_size=8, max_length=256, save_steps=10, lora=_lora()
        ),
        description="LoRA SFT on the demonstrations.",
    )
    balance_borderline: float = Field(
        1.0,
        ge=0,
        description="Repeat the answers to sensitive-but-safe requests until they number this "
        "many times the refusal demonstrations (0: no repeats).",
    )
    dpo: bool = Field(False, description="DPO after SFT, on the comparisons.")
    dpo_settings: DPOSettings = Field(
        default_factory=lambda: DPOSettings(
            learning_rate=5e-5, epochs=1, batch_size=8, max_length=256, save_steps=10, lora=_lora()
        ),
        description="Settings of the DPO stage.",
    )

    guard: bool = Field(True, description="Put the default guard in front of both models.")
    redteam: RealRedteamSettings = Field(
        default_factory=RealRedteamSettings, description="The red-team campaign."
    )
    interp: RealInterpSettings = Field(
        default_factory=RealInterpSettings, description="Probes and the refusal direction."
    )

    @classmethod
    def load(cls, path: Path | None, **overrides: Any) -> RealProfileConfig:
        return load_settings(cls, path, **overrides)


REAL_STAGES: tuple[tuple[str, Stage], ...] = (
    ("model", real_model_stage),
    ("tasks", real_tasks_stage),
    ("eval_base", real_eval_base_stage),
    ("replies", real_replies_stage),
    ("data", real_data_stage),
    ("sft", real_sft_stage),
    ("dpo", real_dpo_stage),
    ("aligned", real_aligned_stage),
    ("eval_aligned", real_eval_aligned_stage),
    ("guard", real_guard_stage),
    ("redteam", real_redteam_stage),
    ("interp", real_interp_stage),
)
REAL_OPTIONAL: dict[str, Callable[[RealProfileConfig], bool]] = {
    "dpo": lambda cfg: cfg.dpo,
    "guard": lambda cfg: cfg.guard,
    "redteam": lambda cfg: cfg.redteam.enabled,
    "interp": lambda cfg: cfg.interp.enabled,
}


def _run(
    out: Path,
    cfg: Any,
    stages: tuple[tuple[str, Stage], ...],
    optional: dict[str, Callable[[Any], bool]],
    title: str,
    console: Console,
) -> Path:
    run = RunDir(out)
    ctx = StageContext.of(run, cfg, console)  # the constitution is resolved once, here
    for name, fn in stages:
        if run.is_done(name):
            console.print(f"[dim]✓ {name} (already done)[/]")
            continue
        if name in optional and not optional[name](cfg):
            console.print(f"[dim]- {name} (switched off)[/]")
            continue
        run.run_stage(name, cfg, cfg.seed, partial(fn, ctx), console)
        for stale in REDO_AFTER.get(name, ()):
            run.clear_done(stale)  # redone below; finished evaluations are not repeated
    report = render_report(out, title=title)
    console.print(f"report: {report}")
    return report


def run_demo(out: Path, cfg: DemoConfig, console: Console | None = None) -> Path:
    """Run (or resume) every stage into ``out`` and render ``out/report.html``."""
    return _run(out, cfg, STAGES, OPTIONAL, "valign run report", console or Console())


def run_real_profile(out: Path, cfg: RealProfileConfig, console: Console | None = None) -> Path:
    """The real-model profile into ``out``: resumable like the demo; the aligned model ends
    up at ``out/aligned/model``."""
    from valign.models.threads import set_threads

    set_threads(cfg.threads)
    title = f"valign run report: {cfg.model}"
    return _run(out, cfg, REAL_STAGES, REAL_OPTIONAL, title, console or Console())
