"""The ``valign`` command: one subcommand (or group) per stage.

Each stage keeps its own Typer sub-app in ``valign/<stage>/cli.py``; this module mounts
them and turns a :class:`~valign.errors.UserError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from valign.errors import UserError

app = typer.Typer(
    name="valign",
    help="Value alignment of language models, driven by one constitution.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _mount() -> None:
    """Attach every stage's sub-app (imported lazily so `valign --help` stays fast)."""
    from valign.values.cli import app as values_app

    app.add_typer(values_app, name="values", help="Constitutions: show, validate, compose.")


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    _mount()
    try:
        app(args=argv, standalone_mode=False)
    except UserError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        Console(stderr=True).print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
