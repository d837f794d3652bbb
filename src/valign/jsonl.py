"""Reading JSONL input files: one object per line, mistakes reported as ``file:line``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from valign.errors import UserError


def iter_objects(path: Path, what: str = "file") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``("file:line", object)`` for every non-blank line; streams, never loads whole.

    A missing file, a line that is not JSON or not an object is a :class:`UserError` that
    names the file (and line), as ``what`` ("preference file", "corpus"...).
    """
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    with path.open("rb") as fh:
        for lineno, data in enumerate(fh, 1):
            where = f"{path}:{lineno}"
            try:
                line = data.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise UserError(f"{where}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(raw, dict):
                raise UserError(f"{where}: expected a JSON object per line")
            yield where, raw
