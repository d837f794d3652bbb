"""Reading the data stage's YAML files (lexicons, policies, audit settings) with one-line
errors: a missing file or a syntax error names the file, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from valign.errors import UserError


def read_yaml(path: Path, what: str) -> Any:
    """The parsed content of ``path``; ``what`` names the file in errors ("policy file")."""
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
