"""Package faces: every public name resolves to what its type-checking import says, and
importing a face imports none of the libraries behind it."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import valign
from valign.lazy import lazy_face

FACES = (
    "valign.values",
    "valign.world",
    "valign.models",
    "valign.records",
    "valign.report",
    "valign.data",
    "valign.evals",
    "valign.evals.benchmarks",
    "valign.guard",
    "valign.redteam",
    "valign.interp",
    "valign.train",
    "valign.feedback",
    "valign.feedback.human",
    "valign.cai",
)
HEAVY = ("torch", "transformers", "trl", "datasets", "sklearn", "scipy", "fastapi", "numpy")


def _python(script: str) -> dict[str, object]:
    """The JSON that ``script`` prints last, run in a fresh interpreter."""
    src = str(Path(valign.__file__).resolve().parent.parent)
    path = [src, *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _typing_imports(face: str) -> dict[str, str]:
    """name -> defining module, from the face's ``if TYPE_CHECKING:`` block."""
    path = Path(importlib.import_module(face).__file__ or "")
    found: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module, ast.unparse(stmt)
                found.update({alias.name: stmt.module for alias in stmt.names})
    return found


def test_importing_a_face_imports_nothing_behind_it() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for face in {FACES!r}: importlib.import_module(face)\n"
        f"print(json.dumps({{'heavy': sorted(m for m in {HEAVY!r} if m in sys.modules)}}))\n"
    )
    assert _python(script)["heavy"] == []


@pytest.mark.parametrize("face", FACES)
def test_every_public_name_is_what_its_typing_import_says(face: str) -> None:
    module = importlib.import_module(face)
    typed = _typing_imports(face)
    assert sorted(typed) == sorted(module.__all__)
    for name, defined_in in typed.items():
        value = getattr(module, name)
        assert value is getattr(importlib.import_module(defined_in), name), f"{face}.{name}"
        assert not isinstance(value, ModuleType), f"{face}.{name} is a module"
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_a_name_shared_with_its_module_stays_the_name() -> None:
    # `compose` names both valign.values.compose (a module) and the function it defines;
    # importing the module first, as another module's import does, must not rebind the name.
    script = (
        "import json, valign.values.compose, valign.interp.sweep\n"
        "from valign.values import compose\n"
        "from valign.interp import sweep\n"
        "print(json.dumps({'kinds': [type(compose).__name__, type(sweep).__name__]}))\n"
    )
    assert _python(script)["kinds"] == ["function", "function"]


def test_a_face_must_place_every_public_name() -> None:
    with pytest.raises(ValueError, match="differ"):
        lazy_face("valign", ["__version__", "missing"], {"errors": ["__version__"]})
