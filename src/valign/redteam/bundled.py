"""The red team's bundled data files (``valign/redteam/data/*.yaml``), read once each."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def data_file(name: str) -> dict[str, Any]:
    """A YAML file of ``valign/redteam/data``."""
    text = resources.files("valign.redteam").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data
