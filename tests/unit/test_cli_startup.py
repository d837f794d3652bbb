"""`valign --help` stays cheap: building the command tree imports no model library.

The help of every group and command is drawn in a fresh interpreter (the test session has
long since imported torch), and that interpreter must not have imported the heavy libraries a
command loads when it runs. Speed itself is measured by ``benchmarks/cli_startup.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import valign

HEAVY = ("torch", "transformers", "trl", "datasets", "sklearn", "scipy", "fastapi", "peft")

SCRIPT = """
import json, sys

import typer
from typer.testing import CliRunner

from valign import cli

cli._mount()
root = typer.main.get_command(cli.app)
runner = CliRunner()


def paths(command, path):
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from paths(sub, [*path, name])


failed = {}
for path in paths(root, []):
    result = runner.invoke(cli.app, [*path, "--help"], prog_name="valign")
    if result.exit_code != 0 or "Usage" not in result.output:
        failed[" ".join(path)] = result.output[-500:]
heavy = sorted(m for m in sys.argv[1:] if m in sys.modules)
print(json.dumps({"commands": len(list(paths(root, []))), "failed": failed, "heavy": heavy}))
"""


def _run(script: str, *args: str) -> dict[str, object]:
    src = str(Path(valign.__file__).resolve().parent.parent)
    path = [src, *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_every_help_page_draws_without_model_libraries() -> None:
    result = _run(SCRIPT, *HEAVY)
    assert result["failed"] == {}
    assert isinstance(result["commands"], int) and result["commands"] > 30
    assert result["heavy"] == [], f"imported while drawing help: {result['heavy']}"
