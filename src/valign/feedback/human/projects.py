"""Projects and their items: create a queue, fill it from JSONL or straight from a model.

One JSON object per line; ``prompt`` is a string (one user turn) or a list of messages
ending with the user's turn::

    pairwise       {"id"?, "prompt", "response_a", "response_b", "gold"?: "A"|"B"|"tie", "meta"?}
                   or a comparison line ({"prompt", "chosen", "rejected", ...}): the two
                   replies become A and B in a seeded random order
    rating         {"id"?, "prompt", "response", "gold"?: 1..points, "meta"?}
    demonstration  {"id"?, "prompt", "response"?: a draft to edit, "meta"?}
    redteam        {"id"?, "prompt": the objective to attempt, "category"?, "meta"?}

Items with a ``gold`` answer are the gold questions (rater accuracy is measured on them).
Importing the same id twice is refused, so re-running an import never duplicates items.
A line must be JSON that every database stores as it is: nested at most 32 levels deep,
no NaN or infinite numbers, no NUL characters or unpaired surrogates in its strings.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select

from valign.errors import UserError
from valign.feedback.human.settings import PROJECT_NAME, ProjectSettings
from valign.feedback.human.store import Store
from valign.feedback.human.tables import Item, Project
from valign.records.comparisons import Comparison

_PROJECT_NAME = re.compile(PROJECT_NAME)


class ItemIn(BaseModel):
    """One line of an import file (all task kinds)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=128, description="Unique in project.")
    prompt: str | list[dict[str, str]] = Field(description="User turn or conversation.")
    response: str | None = Field(None, description="Rating: the reply; demonstration: a draft.")
    response_a: str | None = Field(None, description="Pairwise: the first reply.")
    response_b: str | None = Field(None, description="Pairwise: the second reply.")
    gold: str | int | None = Field(None, description="Known answer: A/B/tie or a rating.")
    category: str | None = Field(None, description="Red team: the harm category targeted.")
    meta: dict[str, Any] = Field(default_factory=dict, description="Kept with the item.")


def create_project(store: Store, settings: ProjectSettings) -> Project:
    with store.session() as s:
        if s.scalar(select(Project).where(Project.name == settings.name)) is not None:
            raise UserError(f"project {settings.name!r} already exists")
        project = Project(**settings.model_dump())
        s.add(project)
        s.flush()
        return project


def is_project_name(name: str) -> bool:
    """Whether ``name`` could name a project (anything else names none, unlooked-up)."""
    return _PROJECT_NAME.fullmatch(name) is not None


def get_project(store: Store, name: str) -> Project:
    project = None
    if is_project_name(name):
        with store.session() as s:
            project = s.scalar(select(Project).where(Project.name == name))
    if project is None:
        raise UserError(f"no project named {name!r}")
    return project


def list_projects(store: Store) -> list[Project]:
    with store.session() as s:
        return list(s.scalars(select(Project).order_by(Project.id)))


def _messages(prompt: str | list[dict[str, str]], where: str) -> list[dict[str, str]]:
    turns = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    if not turns or any(set(t) != {"role", "content"} for t in turns):
        raise UserError(f"{where}: prompt messages need exactly 'role' and 'content'")
    if turns[-1]["role"] != "user":
        raise UserError(f"{where}: the last turn of the prompt must be the user's")
    return turns


def _content_id(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def parse_item(raw: Any, project: Project, where: str, seed: int = 0) -> dict[str, Any]:
    """Column values of one item line for ``project``; UserError naming ``where``."""
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a JSON object per line")
    if "chosen" in raw and project.kind == "pairwise":
        try:
            cmp = Comparison.model_validate(raw)
        except ValidationError as exc:
            raise UserError(f"{where}: {exc.errors()[0]['msg']}") from None
        pair = [cmp.chosen, cmp.rejected]
        random.Random(f"{seed}:{cmp.id}").shuffle(pair)
        raw = {
            "id": cmp.id,
            "prompt": cmp.messages(),
            "response_a": pair[0],
            "response_b": pair[1],
            "meta": {"source": cmp.source, **cmp.meta},
        }
    try:
        item = ItemIn.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise UserError(f"{where}: {loc}: {err['msg']}") from None
    prompt = _messages(item.prompt, where)
    a, b, gold = item.response or "", None, item.gold
    if project.kind == "pairwise":
        if item.response_a is None or item.response_b is None:
            raise UserError(f"{where}: a pairwise item needs 'response_a' and 'response_b'")
        a, b = item.response_a, item.response_b
        if gold is not None and gold not in ("A", "B", "tie"):
            raise UserError(f"{where}: gold must be 'A', 'B' or 'tie' for a pairwise item")
    elif project.kind == "rating":
        if item.response is None:
            raise UserError(f"{where}: a rating item needs 'response'")
        if gold is not None and (
            not isinstance(gold, int) or not 1 <= gold <= project.likert_points
        ):
            raise UserError(f"{where}: gold must be a rating from 1 to {project.likert_points}")
    elif gold is not None:
        raise UserError(f"{where}: {project.kind} items have no gold answer")
    meta = dict(item.meta)
    if item.category:
        meta["category"] = item.category
    return {
        "external_id": item.id or _content_id(prompt, a, b),
        "prompt": prompt,
        "response_a": a,
        "response_b": b,
        "gold": None if gold is None else str(gold),
        "meta": meta,
    }


MAX_DEPTH = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json_line(line: str, where: str) -> Any:
    """One JSON value that every database stores as it is (see the module); else UserError."""
    try:
        value = json.loads(line, parse_constant=_no_constant)
    except RecursionError:
        raise UserError(f"{where}: nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON ({exc.msg})") from None
    except ValueError as exc:  # NaN, Infinity, an integer of more than 4,300 digits
        raise UserError(f"{where}: not valid JSON ({exc})") from None
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UserError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(v, dict):
            stack.extend((k, depth) for k in v)
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, str) and _UNSTORABLE.search(v):
            raise UserError(f"{where}: a string holds a NUL character or an unpaired surrogate")
        elif isinstance(v, float) and not math.isfinite(v):
            raise UserError(f"{where}: a number is too large")
    return value


def read_text_file(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; UserError when it is missing or unreadable."""
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None


def read_items(path: Path, project: Project, seed: int = 0) -> list[dict[str, Any]]:
    """Parse a whole JSONL file first, so a bad line imports nothing."""
    text = read_text_file(path, "item file")
    return parse_lines(text.splitlines(), project, str(path), seed)


def parse_lines(
    lines: Iterable[str], project: Project, name: str, seed: int = 0
) -> list[dict[str, Any]]:
    rows = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        rows.append(parse_item(load_json_line(line, where), project, where, seed))
    if not rows:
        raise UserError(f"{name}: no items in the file")
    return rows


def add_items(store: Store, project_name: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert items in one transaction; an id already in the project (or twice in ``rows``)
    refuses the whole batch."""
    ids = [r["external_id"] for r in rows]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup is not None:
        raise UserError(f"item id {dup!r} appears twice in the import")
    with store.session() as s:
        project = s.scalar(select(Project).where(Project.name == project_name))
        if project is None:
            raise UserError(f"no project named {project_name!r}")
        existing = set(
            s.scalars(
                select(Item.external_id).where(
                    Item.project_id == project.id, Item.external_id.in_(ids)
                )
            )
        )
        if existing:
            raise UserError(
                f"{len(existing)} item id(s) already in project {project_name!r}, "
                f"e.g. {sorted(existing)[0]!r}"
            )
        s.add_all(Item(project_id=project.id, **r) for r in rows)
    return len(rows)


def count_items(store: Store, project_id: int) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).where(Item.project_id == project_id)) or 0


def items_from_model(
    model: Any,
    prompts: Sequence[str | list[dict[str, str]]],
    kind: str,
    config: Any = None,
) -> list[dict[str, Any]]:
    """Item lines sampled from a ``valign.models.ChatModel``: two replies per prompt for
    pairwise (different sampling seeds), one otherwise."""
    from valign.models import GenerationConfig

    cfg = config or GenerationConfig(max_new_tokens=128, temperature=0.8, seed=0)
    convs = [_messages(p, f"prompt {i}") for i, p in enumerate(prompts)]
    first = model.generate(convs, cfg)
    if kind != "pairwise":
        return [{"prompt": c, "response": r} for c, r in zip(convs, first, strict=True)]
    from dataclasses import replace

    second = model.generate(convs, replace(cfg, seed=cfg.seed + 1))
    return [
        {"prompt": c, "response_a": a, "response_b": b, "meta": {"model": model.name}}
        for c, a, b in zip(convs, first, second, strict=True)
    ]
