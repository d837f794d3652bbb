"""Settings from defaults, a YAML file and command-line options, in that order of precedence.

Every command that takes ``--config`` loads its pydantic settings model through
:func:`load_settings`: the model's defaults, overridden by the YAML file, overridden by the
options given on the command line (``None`` means "not given"). Dotted keys reach nested
settings (``rl.max_steps``). Mistakes become one-line errors naming the file and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from valign.errors import UserError

M = TypeVar("M", bound=BaseModel)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
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
        raise UserError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def _defaults(cls: type[M]) -> dict[str, Any]:
    """The defaults as data, so that a file setting one nested field keeps its siblings'
    defaults, also those a nested default factory chose (the demo's SFT learning rate)."""
    try:
        return cls().model_dump()
    except ValidationError:
        return {}  # required fields: no whole default to start from


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else value
    return out


def _set(data: dict[str, Any], key: str, value: Any, where: str) -> None:
    head, _, rest = key.partition(".")
    if not rest:
        data[head] = value
        return
    inner = data.setdefault(head, {})
    if not isinstance(inner, dict):
        raise UserError(f"{where}: {head}: expected a mapping of settings")
    _set(inner, rest, value, where)


def load_settings(cls: type[M], path: Path | None, **overrides: Any) -> M:
    """``cls`` from its defaults < the YAML file at ``path`` < the non-None ``overrides``."""
    data = _merge(_defaults(cls), read_yaml_mapping(path) if path is not None else {})
    where = str(path) if path is not None else "options"
    for key, value in overrides.items():
        if value is not None:
            _set(data, key, value, where)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise UserError(f"{where}: {loc}: {err['msg']}") from None
