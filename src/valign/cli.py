"""The ``valign`` command: one subcommand (or group) per stage.

Each stage keeps its own Typer sub-app in ``valign/<stage>/cli.py``; this module mounts
them and turns a :class:`~valign.errors.UserError` into one line on stderr and exit code 2.
Those modules import torch, transformers and the like inside their commands, never at the
top, and the package faces load names on first use: ``valign --help`` builds the whole
command tree without them (``tests/unit/test_cli_startup.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from valign.errors import UserError

app = typer.Typer(
    name="valign",
    help="Value alignment of language models, driven by one constitution.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from valign import __version__

        typer.echo(f"valign {__version__}")
        raise typer.Exit()


def setup_logging(verbose: int = 0, quiet: bool = False) -> int:
    """Route the ``valign`` loggers to stderr through rich: warnings by default, ``-v``
    info, ``-vv`` debug, ``--quiet`` errors only. Returns the level set."""
    import logging

    from rich.logging import RichHandler

    level = logging.ERROR if quiet else max(logging.DEBUG, logging.WARNING - 10 * verbose)
    root = logging.getLogger("valign")
    root.setLevel(level)
    if not any(getattr(h, "_valign", False) for h in root.handlers):
        handler = RichHandler(
            console=Console(stderr=True), show_time=False, show_path=verbose > 1, markup=False
        )
        handler._valign = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    return level


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More log output (-v info, -vv debug)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors in the log output."),
) -> None:
    """Value alignment of language models, driven by one constitution."""
    setup_logging(verbose, quiet)


@app.command("demo")
def demo(
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run folder (resumed if it exists). Default: runs/<profile>."
    ),
    profile: str = typer.Option(
        "demo",
        "--profile",
        help="'demo': the microworld (the embedded default); a packaged model name "
        "(`valign models list`, e.g. smollm2): that real model aligned on public benchmarks.",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="YAML file of the profile's settings (DemoConfig, RealProfileConfig)"
    ),
    seed: int | None = typer.Option(None, help="Seed of the world and of training."),
    max_steps: int | None = typer.Option(
        None, help="Pretraining steps (default: one epoch); with a real model, SFT steps."
    ),
    eval_limit: int | None = typer.Option(None, help="Evaluate only the first N items."),
    constitution: str | None = typer.Option(
        None,
        "--constitution",
        help="Constitution name or path for every stage (`valign values list`).",
    ),
    overlay: list[str] = typer.Option(
        [], "--overlay", help="Overlay composed onto the constitution (repeatable)."
    ),
) -> None:
    """The main job: the microworld by default, or a real model (--profile smollm2)."""
    values = {"constitution": constitution, "overlays": tuple(overlay) or None}
    if profile == "demo":
        from valign.pipeline import DemoConfig, run_demo

        cfg = DemoConfig.load(
            config,
            seed=seed,
            eval_limit=eval_limit,
            **values,
            **{"pretrain.max_steps": max_steps},
        )
        run_demo(out or Path("runs/demo"), cfg)
        return
    from valign.models.packaged import is_packaged, packaged_models
    from valign.pipeline import RealProfileConfig, run_real_profile

    if not is_packaged(profile):
        names = ", ".join(["demo", *sorted(packaged_models())])
        raise UserError(f"unknown profile {profile!r}; choose one of: {names}")
    real = RealProfileConfig.load(
        config,
        model=profile,
        seed=seed,
        eval_limit=eval_limit,
        **values,
        **{"sft.max_steps": max_steps},
    )
    run_real_profile(out or Path("runs") / profile, real)


def _mount() -> None:
    """Attach every stage's sub-app (imported here, not at the top, so that importing this
    module stays cheap; none of them imports a model library until a command runs)."""
    from valign.cai.cli import app as cai_app
    from valign.data.cli import app as data_app
    from valign.evals.benchmarks.cli import app as tasks_app
    from valign.evals.cli import eval_command
    from valign.feedback.human.cli import app as feedback_app
    from valign.guard.cli import app as guard_app
    from valign.interp.cli import app as interp_app
    from valign.models.cli import app as models_app
    from valign.redteam.cli import redteam_command
    from valign.train.cli import align_command
    from valign.train.cli import app as train_app
    from valign.values.cli import app as values_app
    from valign.world.cli import app as world_app

    app.add_typer(values_app, name="values", help="Constitutions: show, validate, compose.")
    app.add_typer(world_app, name="world", help="The microworld: build its splits.")
    app.add_typer(models_app, name="models", help="Packaged real models: list, fetch.")
    app.add_typer(
        guard_app, name="guard", help="The guard: content filter, refusal detector, server."
    )
    app.add_typer(
        interp_app, name="interp", help="Interpretability: explain neurons, probe, steer."
    )
    app.add_typer(train_app, name="train", help="Training: SFT, reward/cost models, DPO, RL.")
    app.command("align")(align_command)
    app.add_typer(
        data_app, name="data", help="Training data: audit, datasheet, filter, dataset builders."
    )
    app.add_typer(feedback_app, name="feedback", help="Human feedback: the rating web app.")
    app.add_typer(cai_app, name="cai", help="Constitutional AI: evaluator, judge, RLAIF.")
    app.command("eval")(eval_command)
    app.add_typer(tasks_app, name="tasks", help="Task files from public benchmarks.")
    app.command("redteam")(redteam_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point. Click reports usage mistakes itself (exit 2); a UserError from
    any stage becomes one line on stderr and exit code 2."""
    _mount()
    try:
        app(args=argv, prog_name="valign")
    except UserError as exc:
        Console(stderr=True).print(
            f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True
        )
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
