"""Read and write constitution and overlay files.

A mistake in a file is a :class:`ConstitutionError` with one line that names the file, the
line and the field, so a person can fix it without reading a traceback::

    default.yaml:42: principles[3].categories[0]: unknown category 'violnce' (known: ...)

The file is parsed once into a YAML node tree (which remembers line numbers) and into plain
data; pydantic validates the data, and the location of its first error (or, for
cross-reference errors, the ``at`` path in the error context) is walked through the node tree
to find the line.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import Node

from valign.records.runs import atomic_write_text
from valign.settings import LineLoader, line_of
from valign.values.compose import compose
from valign.values.errors import ConstitutionError
from valign.values.schema import REFERENCE_ERROR, Constitution, Overlay

__all__ = [
    "CONSTITUTIONS_DIR",
    "OVERLAYS_DIR",
    "bundled_constitutions",
    "bundled_overlays",
    "dump_constitution",
    "load_constitution",
    "load_file",
    "load_overlay",
    "write_constitution",
]

CONSTITUTIONS_DIR = Path(__file__).parent / "constitutions"
OVERLAYS_DIR = Path(__file__).parent / "overlays"

Model = TypeVar("Model", bound=BaseModel)
Kind = Literal["constitution", "overlay"]
Loc = tuple[str | int, ...]  # a path into the data, as pydantic reports it

_OVERLAY_ONLY = set(Overlay.model_fields) - set(Constitution.model_fields)
_CONSTITUTION_ONLY = set(Constitution.model_fields) - set(Overlay.model_fields)


# ── finding files ────────────────────────────────────────────────────────────


def _bundled(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        return {}
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))}


def bundled_constitutions() -> dict[str, Path]:
    """Constitutions shipped with valign, name → file, sorted by name."""
    return _bundled(CONSTITUTIONS_DIR)


def bundled_overlays() -> dict[str, Path]:
    """Overlays shipped with valign, name → file, sorted by name."""
    return _bundled(OVERLAYS_DIR)


def _resolve(name_or_path: str | os.PathLike[str], kind: Kind) -> tuple[Path, str]:
    """The file to read and the label to show in messages."""
    text = os.fspath(name_or_path)
    looks_like_path = (
        not isinstance(name_or_path, str)
        or "/" in text
        or os.sep in text
        or text.endswith((".yaml", ".yml"))
    )
    if not looks_like_path:
        bundled = _bundled(CONSTITUTIONS_DIR if kind == "constitution" else OVERLAYS_DIR)
        if text in bundled:
            return bundled[text], bundled[text].name
        if not Path(text).exists():
            raise ConstitutionError(
                f"no bundled {kind} named {text!r} and no such file "
                f"(bundled: {', '.join(bundled) or 'none'})"
            )
    return Path(text), text


# ── reading YAML with line numbers ───────────────────────────────────────────


class _Loader(LineLoader):
    """The settings' loader, raising the constitution's own error."""

    error = ConstitutionError


def _read_yaml(path: Path, label: str) -> tuple[Any, Node]:
    """Plain data and the node tree of a single-document YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConstitutionError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ConstitutionError(f"{label}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise ConstitutionError(f"{label}: not UTF-8 text") from None
    except OSError as exc:
        raise ConstitutionError(f"{label}: cannot read ({exc.strerror})") from None
    return _parse_yaml(text, label)


def _parse_yaml(text: str, label: str) -> tuple[Any, Node]:
    loader = _Loader(text)
    loader.label = label
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConstitutionError(f"{label}: empty file")
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{label}:{mark.line + 1}" if mark is not None else label
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConstitutionError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        one_line = " ".join(str(exc).split())
        raise ConstitutionError(f"{label}: YAML error: {one_line}") from None
    finally:
        loader.dispose()
    return data, node


def _kind_of(data: dict[str, Any]) -> Kind:
    """Whether a mapping is meant as an overlay or a constitution, judged by its keys."""
    if _OVERLAY_ONLY & data.keys() and not _CONSTITUTION_ONLY & data.keys():
        return "overlay"
    return "constitution"


# ── turning pydantic errors into one line ────────────────────────────────────


def _format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` (to list its allowed fields)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            args = get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field is not None else None
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: Any, model: type[BaseModel]) -> tuple[Loc, str, Loc | None]:
    """For one pydantic error: where to point, the message, and for an unknown field the
    missing field it is probably a misspelling of (that error is then not reported twice)."""
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == REFERENCE_ERROR:
        return (*loc, *error["ctx"]["at"]), error["msg"], None
    if kind == "missing":
        return loc[:-1], f"missing field {loc[-1]!r}", None
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = list(owner.model_fields) if owner else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        message = f"unknown field ({hint}allowed: {', '.join(allowed)})"
        return loc, message, (*loc[:-1], close[0]) if close else None
    message = error["msg"].removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    if not isinstance(value, dict | list) and "got " not in message:
        message += f", got {_short_repr(value)}"
        if kind == "string_type" and isinstance(value, int | float | bool):
            message += " (quote it in YAML)"
    return loc, message, None


def _validate(model: type[Model], data: Any, node: Node, label: str) -> Model:
    if not isinstance(data, dict):
        got = type(data).__name__ if data is not None else "nothing"
        raise ConstitutionError(
            f"{label}:{node.start_mark.line + 1}: expected a mapping with the fields "
            f"{', '.join(model.model_fields)}; got {got}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        described = [_describe(error, model) for error in errors]
        misspelt = {typo_of for _, _, typo_of in described if typo_of is not None}
        problems = []
        for error, (where, message, _) in zip(errors, described, strict=True):
            if error["type"] == "missing" and tuple(error["loc"]) in misspelt:
                continue  # reported as the unknown field that was meant to be it
            line = line_of(node, where)
            path = _format_loc(where)
            problems.append((line, f"{label}:{line}: {path + ': ' if path else ''}{message}"))
        problems.sort(key=lambda problem: problem[0])
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConstitutionError(problems[0][1] + more) from None


# ── public loaders ───────────────────────────────────────────────────────────


def _a(kind: Kind) -> str:
    return f"an {kind}" if kind == "overlay" else f"a {kind}"


def _load(name_or_path: str | os.PathLike[str], expected: Kind) -> Constitution | Overlay:
    path, label = _resolve(name_or_path, expected)
    data, node = _read_yaml(path, label)
    if isinstance(data, dict) and (actual := _kind_of(data)) != expected:
        raise ConstitutionError(
            f"{label}:{node.start_mark.line + 1}: expected {_a(expected)} file, "
            f"but its fields make it {_a(actual)}"
        )
    model: type[Constitution] | type[Overlay] = (
        Constitution if expected == "constitution" else Overlay
    )
    return _validate(model, data, node, label)


def load_constitution(name_or_path: str | os.PathLike[str]) -> Constitution:
    """A bundled constitution by name (``"default"``) or one read from a YAML file."""
    constitution = _load(name_or_path, "constitution")
    assert isinstance(constitution, Constitution)
    return constitution


def load_overlay(name_or_path: str | os.PathLike[str]) -> Overlay:
    """A bundled overlay by name (``"eu"``) or one read from a YAML file."""
    overlay = _load(name_or_path, "overlay")
    assert isinstance(overlay, Overlay)
    return overlay


def load_file(path: str | os.PathLike[str]) -> Constitution | Overlay:
    """A constitution or an overlay, whichever the file's fields say it is."""
    label = os.fspath(path)
    data, node = _read_yaml(Path(label), label)
    if isinstance(data, dict) and _kind_of(data) == "overlay":
        return _validate(Overlay, data, node, label)
    return _validate(Constitution, data, node, label)


# ── writing ──────────────────────────────────────────────────────────────────


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so long texts stay readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_constitution(constitution: Constitution) -> str:
    """The constitution as YAML text that :func:`load_constitution` reads back unchanged."""
    data = constitution.model_dump(mode="json")
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def write_constitution(constitution: Constitution, path: str | os.PathLike[str]) -> Path:
    """Write the constitution as YAML atomically: a reader never sees half a file."""
    return atomic_write_text(path, dump_constitution(constitution))


def load_composed(
    name_or_path: str | os.PathLike[str], overlays: Sequence[str | os.PathLike[str]] = ()
) -> Constitution:
    """A constitution (name or path) with the overlays (names or paths) composed onto it."""
    return compose(load_constitution(name_or_path), [load_overlay(o) for o in overlays])
