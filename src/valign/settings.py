"""Settings from defaults, a YAML file and command-line options, in that order of precedence.

Every command that takes ``--config`` loads its settings through :func:`load_settings`: the
settings class's defaults, overridden by the YAML file, overridden by the options given on the
command line (``None`` means "not given"). Dotted keys reach nested settings
(``rl.max_steps``). A settings class is a pydantic model or a (frozen) dataclass.

Mistakes are one-line errors naming the file, the line and the field
(``cfg.yaml:3: rl.max_stepz: Extra inputs are not permitted``), never a traceback.

On the command line an option the user did not type must not hide the file's value, so a
command either gives its options no default (``None``) or keeps their defaults for
``--help`` and passes on only what was typed (:func:`given`). :func:`settings_options`
writes a command's options from the settings class itself, help text from each field's
description, like TRL's ``HfArgumentParser``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from valign.errors import UserError

M = TypeVar("M")
F = TypeVar("F", bound=Callable[..., Any])


# ── reading YAML, with the line of every key ─────────────────────────────────


class LineLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (PyYAML would keep the last silently),
    raising ``error`` with the file (``label``) and both lines; every YAML file valign reads
    (settings, constitutions) goes through it."""

    label = "<string>"
    error: type[UserError] = UserError

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                raise self.error(
                    f"{self.label}:{line}: {key_node.value}: given twice "
                    f"(first on line {first[key_node.value]})"
                )
            first[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


def _parse(path: Path, what: str) -> tuple[Any, Node | None]:
    """The data and the node tree (for line numbers) of one YAML file."""
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    loader = LineLoader(text)
    loader.label = str(path)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise UserError(f"{path}{where}: not valid YAML ({problem})") from None
    finally:
        loader.dispose()
    return data, node


def read_yaml(path: Path, what: str = "config file") -> Any:
    """The parsed content of a YAML file; ``what`` names it in errors ("policy file")."""
    return _parse(path, what)[0]


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """A YAML file of settings: a mapping (an empty file is an empty one)."""
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def line_of(node: Node, loc: Sequence[Any]) -> int:
    """1-based line of the deepest key on the path ``loc`` that the file has."""
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                break
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _in_file(data: Any, loc: tuple[Any, ...]) -> bool:
    """Whether the file gives the first key of ``loc`` (the field the error is about)."""
    return isinstance(data, dict) and bool(loc) and str(loc[0]) in data


# ── defaults < file < options ────────────────────────────────────────────────


def _defaults(cls: type[Any]) -> dict[str, Any]:
    """The defaults as data, so that a file setting one nested field keeps its siblings'
    defaults, also those a nested default factory chose (the demo's SFT learning rate)."""
    try:
        default = cls()
    except (ValidationError, TypeError):
        return {}  # required fields: no whole default to start from
    if isinstance(default, BaseModel):
        return default.model_dump()
    return dataclasses.asdict(default)


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


def _unknown_key(cls: Any, data: Any, loc: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The path of the first key a dataclass does not have (pydantic ignores them there)."""
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type) and isinstance(data, dict)):
        return None
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation only a type checker can resolve
        hints = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in names:
            return (*loc, str(key))
        found = _unknown_key(hints.get(key), value, (*loc, str(key)))
        if found:
            return found
    return None


def _validate(cls: type[M], data: dict[str, Any]) -> M:
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return cls.model_validate(data)
    return TypeAdapter(cls).validate_python(data)


def load_settings(cls: type[M], path: Path | None, **overrides: Any) -> M:
    """``cls`` from its defaults < the YAML file at ``path`` < the non-None ``overrides``.

    An error names where the bad value came from: ``file:line`` for the file's, ``options``
    for the command line's, and the field (``rl.max_steps``) either way.
    """
    raw, node = _parse(path, "config file") if path is not None else ({}, None)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    data = _merge(_defaults(cls), raw)
    typed = {key: value for key, value in overrides.items() if value is not None}
    for key, value in typed.items():
        _set(data, key, value, str(path) if path is not None else "options")

    def where(loc: tuple[Any, ...]) -> str:
        dotted = ".".join(str(x) for x in loc)
        if any(dotted == k or dotted.startswith(k + ".") for k in typed):
            return "options"
        if path is None:
            return "options"
        if node is not None and _in_file(raw, loc):
            return f"{path}:{line_of(node, loc)}"
        return str(path)

    unknown = _unknown_key(cls, data)
    if unknown:
        raise UserError(f"{where(unknown)}: {'.'.join(unknown)}: not a setting")
    try:
        return _validate(cls, data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required: give it as an option or in the config file"
        raise UserError(f"{where(loc)}: {'.'.join(str(x) for x in loc)}: {msg}") from None


# ── the command line ─────────────────────────────────────────────────────────


def given(ctx: Any, *names: str) -> dict[str, Any]:
    """The options of the running command that were typed (or set in the environment), by
    parameter name, as opposed to those left at their defaults; only ``names`` if given."""
    typed = ("COMMANDLINE", "ENVIRONMENT")  # by name: Typer may carry its own copy of click
    return {
        name: value
        for name, value in ctx.params.items()
        if (not names or name in names)
        and getattr(ctx.get_parameter_source(name), "name", None) in typed
    }


_SCALARS = (str, int, float, bool, Path)


def _option_type(annotation: Any) -> Any:
    """The command-line type of a settings field, or None when it is set in YAML only."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in _SCALARS:
        return annotation
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return _option_type(rest[0]) if len(rest) == 1 else None
    sequence = origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis)
    if sequence and args[0] in _SCALARS and args[0] is not bool:
        return list[args[0]]  # type: ignore[valid-type]
    return None


def settings_options(
    cls: type[BaseModel],
    *,
    names: Mapping[str, str] | None = None,
    skip: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Give a Typer command one option per field of ``cls`` that a command line can hold.

    Each option is ``--field-name`` (or ``names[field]``), its help the field's description,
    its default the field's (shown in ``--help``; a required field must come from the
    option or the YAML file). The command receives ``overrides``: only the options the
    user typed, by field name, ready for :func:`load_settings`. Nested settings and other
    fields of no command-line type stay in the YAML file.
    """
    import typer

    names = dict(names or {})
    fields = {
        name: (kind, info)
        for name, info in cls.model_fields.items()
        if name not in skip and (kind := _option_type(info.annotation)) is not None
    }

    def option(name: str, kind: Any, info: Any) -> inspect.Parameter:
        flag = "--" + names.get(name, name).replace("_", "-")
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        help_text = (info.description or "").strip()
        if info.is_required():
            default = None
            help_text += " Required, here or in --config."
            kind = kind | None
        else:
            default = info.get_default(call_default_factory=True)
            default = list(default) if isinstance(default, tuple) else default
            if default is None:
                kind = kind | None
        return inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(default, *decls, help=help_text),
            annotation=kind,
        )

    def wrap(func: F) -> F:
        own = [
            p
            for p in inspect.signature(func, eval_str=True).parameters.values()
            if p.name != "overrides"
        ]
        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        made = [option(name, kind, info) for name, (kind, info) in fields.items()]

        @functools.wraps(func)
        def command(ctx: typer.Context, **kwargs: Any) -> Any:
            typed = given(ctx)
            overrides = {name: typed[name] for name in fields if name in typed}
            for name in fields:
                kwargs.pop(name, None)
            return func(**kwargs, overrides=overrides)

        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [context, *made, *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own)]
        )
        return command  # type: ignore[return-value]

    return wrap
