"""The red team's own data files (``valign/redteam/data/*.yaml``): attack templates,
attacker fragments, detector phrases; read as package resources."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml


def data_file(name: str) -> dict[str, Any]:
    """A YAML file of ``valign/redteam/data``."""
    text = resources.files("valign.redteam").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data
