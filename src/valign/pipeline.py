"""The lifecycle: the main job, composed from the stages.

    world      build the microworld's splits                     -> world/
    pretrain   tokenizer + base model on the corpus              -> pretrain/model/
    eval_base  scorecard of the base model on held-out items     -> eval_base/
    guard      attack success with and without the default guard -> guard/
    data_audit the corpus's audit and datasheet (opt-in)          -> data_audit/
    report     report.html over every finished stage

Each stage writes its records and a manifest into its own folder of the run and a
``DONE.json`` marker last; running the pipeline again skips finished stages and resumes
the unfinished one (pretraining from its last checkpoint, evaluation from its last
recorded item).

Configuration precedence, lowest to highest: the defaults below, a YAML file
(``--config``), then command-line options.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from valign.data.stage import data_audit_stage
from valign.errors import UserError
from valign.evals.run import EvalSettings, run_eval
from valign.guard.stage import guard_stage
from valign.report import RunDir, format_value, manifest, render_report
from valign.report.sections import bar_plot, line_plot, section, table
from valign.train.pretrain import PretrainConfig, pretrain
from valign.world.splits import WorldConfig, build_world


class DemoConfig(BaseModel):
    """Settings of the main job on the embedded default (the microworld)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(0, description="Seed of the world and of every training run.")
    constitution: str = Field("default", description="Constitution name or path.")
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    eval_limit: int = Field(0, description="Evaluate only the first N items (0: all).")
    eval_batch_size: int = Field(64, description="Generation batch size for evaluation.")
    corpus_dialogues: int = Field(
        WorldConfig.corpus_dialogues, description="Chat episodes in the pretraining corpus."
    )
    eval_per_kind: int = Field(WorldConfig.eval_per_kind, description="Evaluation items per kind.")
    data_audit: bool = Field(
        False,
        description="Audit the pretraining corpus and write its datasheet (a few minutes: "
        "the guard screens every document).",
    )
    guard: bool = Field(
        True,
        description="Measure attack success with and without the default guard "
        "(the guard is built once and cached, about a minute).",
    )

    @classmethod
    def load(cls, path: Path | None, **overrides: Any) -> DemoConfig:
        data: dict[str, Any] = {}
        if path is not None:
            if not path.is_file():
                raise UserError(f"config file not found: {path}")
            try:
                data = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f":{mark.line + 1}" if mark is not None else ""
                problem = getattr(exc, "problem", None) or "syntax error"
                raise UserError(f"{path}{where}: not valid YAML ({problem})") from None
            if not isinstance(data, dict):
                raise UserError(
                    f"{path}: expected a mapping of settings, got {type(data).__name__}"
                )
        for key, value in overrides.items():
            if value is None:
                continue
            if "." in key:
                outer, inner = key.split(".", 1)
                if not isinstance(data.get(outer, {}), dict):
                    raise UserError(f"{path or 'options'}: {outer}: expected a mapping of settings")
                data[outer] = {**data.get(outer, {}), inner: value}
            else:
                data[key] = value
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise UserError(f"{path or 'options'}: {loc}: {err['msg']}") from None


Stage = Callable[[RunDir, DemoConfig, Console], dict[str, Any]]


def stage_world(run: RunDir, cfg: DemoConfig, console: Console) -> dict[str, Any]:
    wcfg = WorldConfig(
        seed=cfg.seed, corpus_dialogues=cfg.corpus_dialogues, eval_per_kind=cfg.eval_per_kind
    )
    summary = build_world(run.stage("world"), wcfg)
    rows = [[name, info["lines"], info["sha256"][:16]] for name, info in summary["files"].items()]
    summary["report"] = section(
        "The microworld",
        order=10,
        text="A seeded assistant world with exact labels. The evaluation split uses surface "
        "templates and people, places and organisations that no training split contains.",
        tables=[table("Splits", ["file", "lines", "sha256"], rows)],
    )
    return summary


def stage_pretrain(run: RunDir, cfg: DemoConfig, console: Console) -> dict[str, Any]:
    corpus = run.stage_path("world") / "corpus.jsonl"
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("pretraining", total=None)
        result = pretrain(
            corpus,
            run.stage("pretrain"),
            cfg.pretrain,
            on_step=lambda s, t: bar.update(task, completed=s, total=t),
        )
    summary = result.to_dict()
    steps = [p["step"] for p in result.log]
    summary["report"] = section(
        "Base model pretraining",
        order=20,
        text=f"A Llama-style causal LM trained from scratch on the corpus: {result.steps} steps, "
        f"{result.tokens:,} tokens in {result.seconds:.0f} s.",
        plots=[
            line_plot(
                "Training loss",
                steps,
                {"loss": [p["loss"] for p in result.log]},
                xlabel="step",
                ylabel="loss",
            )
        ],
    )
    return summary


def stage_eval_base(run: RunDir, cfg: DemoConfig, console: Console) -> dict[str, Any]:
    from valign.evals.scorecard import METRIC_TITLES

    model_dir = run.stage_path("pretrain") / "model"
    tasks = run.stage_path("world") / "eval.jsonl"
    settings = EvalSettings(
        model=str(model_dir),
        tasks=str(tasks),
        constitution=cfg.constitution,
        limit=cfg.eval_limit,
        batch_size=cfg.eval_batch_size,
    )
    card = run_eval(settings, run.stage("eval_base"), console=console)
    rows = [
        [METRIC_TITLES[k], format_value(v), v["n"]]
        for k, v in card["metrics"].items()
        if v and k in METRIC_TITLES
    ]
    prows = [
        [p["id"], ", ".join(p["categories"]) or "(benign)", format_value(p["pass_rate"])]
        for p in card["principles"]
    ]
    fams = {k: v for k, v in card["jailbreak_by_family"].items() if v}
    return {
        "scorecard": card,
        "report": section(
            "Scorecard: base model",
            order=30,
            text="Held-out microworld evaluation of the pretrained base model. "
            "Intervals are 95% (Wilson for rates, bootstrap for MC2 and bias scores).",
            tables=[
                table("Headline metrics", ["metric", "value [95% CI]", "n"], rows),
                table("Per principle", ["principle", "categories", "pass rate"], prows),
            ],
            plots=[
                bar_plot(
                    "Jailbreak success by wrapper family",
                    list(fams),
                    list(fams.values()),
                    ylabel="attack success rate",
                )
            ],
        ),
    }


STAGES: tuple[tuple[str, Stage], ...] = (
    ("world", stage_world),
    ("pretrain", stage_pretrain),
    ("eval_base", stage_eval_base),
    ("guard", guard_stage),
    ("data_audit", data_audit_stage),
)
OPTIONAL = {"guard": lambda cfg: cfg.guard, "data_audit": lambda cfg: cfg.data_audit}


def run_demo(out: Path, cfg: DemoConfig, console: Console | None = None) -> Path:
    """Run (or resume) every stage into ``out`` and render ``out/report.html``."""
    console = console or Console()
    run = RunDir(out)
    for name, fn in STAGES:
        if run.is_done(name):
            console.print(f"[dim]✓ {name} (already done)[/]")
            continue
        if name in OPTIONAL and not OPTIONAL[name](cfg):
            console.print(f"[dim]- {name} (switched off)[/]")
            continue
        console.print(f"[bold]▶ {name}[/]")
        m = manifest(name, cfg, cfg.seed)
        run.write_manifest(name, m)
        t0 = time.perf_counter()
        summary = fn(run, cfg, console)
        summary["seconds"] = round(time.perf_counter() - t0, 1)
        run.mark_done(name, m, summary)
        console.print(f"[green]✓ {name}[/] in {summary['seconds']:.0f} s")
    report = render_report(out, title="valign run report")
    console.print(f"report: {report}")
    return report
