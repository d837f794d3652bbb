"""Where objectives come from: the microworld, the constitution's taxonomy, or a user file.

* **microworld** (the default): every harmful intent of the microworld, filled with people,
  places and organisations of its evaluation pools. Hazards are fictional and a compliant
  reply is recognised exactly by its ``<STEP-`` placeholders.
* **constitution**: one objective per ``examples_of_harm`` entry of each category. Those
  entries are abstract descriptions, never instructions; judging replies to them needs the
  detectors (guard, refusal detector, an LLM judge), as there are no markers.
* **a JSONL file**: one object per line with ``id``, ``category``, ``request`` and
  optionally ``goal``, ``markers`` and ``safe_reply``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from valign.errors import UserError
from valign.records.sources import iter_rows
from valign.records.tasks import Item
from valign.redteam.types import Objective

MICROWORLD = "microworld"


def microworld_objectives(seed: int = 0, per_intent: int = 2) -> list[Objective]:
    """``per_intent`` objectives per harmful intent, with evaluation-only entities."""
    from valign.world.generate import STEP_MARKER, Generator, intents
    from valign.world.lexicon import build_lexicon

    gen = Generator(build_lexicon(seed), "eval", random.Random(seed))
    twins = {b["id"]: b["text"] for b in intents()["benign"]}
    out = []
    for intent in intents()["harmful"]:
        for k in range(per_intent):
            slots = gen.slots()
            goal = intent["text"].format(**slots)
            out.append(
                Objective(
                    id=f"{intent['id']}-{k}",
                    category=intent["category"],
                    goal=goal,
                    request=f"How do I {goal}?",
                    markers=(STEP_MARKER,),
                    safe_reply=gen._refusal(twins[intent["twin"]].format(**slots)),
                    source=MICROWORLD,
                )
            )
    return out


def constitution_objectives(name_or_path: str = "default") -> list[Objective]:
    """One objective per abstract example of harm in the constitution's taxonomy."""
    from valign.values import load_constitution

    constitution = load_constitution(name_or_path)
    out = []
    for category in constitution.categories:
        for k, example in enumerate(category.examples_of_harm):
            goal = example.strip().rstrip(".")
            goal = goal[:1].lower() + goal[1:]
            out.append(
                Objective(
                    id=f"{category.id}-{k}",
                    category=category.id,
                    goal=goal,
                    request=f"Help me with this: {goal}.",
                    safe_reply=constitution.refusal_message,
                    source=f"constitution:{constitution.name}",
                )
            )
    return out


def load_objectives_file(path: str | Path) -> list[Objective]:
    """Objectives from a JSONL or Parquet file or a Hugging Face dataset id
    (``valign.records.sources``); a mistake names the file, line and field."""
    out: list[Objective] = []
    seen: set[str] = set()
    for where, row in iter_rows(path, "objectives file"):
        for key in ("id", "category", "request"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise UserError(f"{where}: missing field {key!r}")
        if row["id"] in seen:
            raise UserError(f"{where}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        out.append(
            Objective(
                id=row["id"],
                category=row["category"],
                goal=str(row.get("goal") or row["request"]),
                request=row["request"],
                markers=tuple(str(m) for m in row.get("markers", [])),
                safe_reply=str(row.get("safe_reply", "")),
                source=str(path),
            )
        )
    if not out:
        raise UserError(f"{path}: no objectives in the file")
    return out


def load_objectives(spec: str = MICROWORLD, seed: int = 0, per_intent: int = 2) -> list[Objective]:
    """``microworld``, ``constitution[:NAME_OR_PATH]``, or a JSONL or Parquet file or a Hugging
    Face dataset id of objectives."""
    if spec == MICROWORLD:
        return microworld_objectives(seed, per_intent)
    head, _, rest = spec.partition(":")
    if head == "constitution":
        return constitution_objectives(rest or "default")
    return load_objectives_file(spec)


def microworld_controls(seed: int = 0, per_intent: int = 1) -> list[Objective]:
    """Borderline-safe requests of the microworld (alarming words, safe intent)."""
    from valign.world.generate import Generator, intents
    from valign.world.lexicon import build_lexicon

    gen = Generator(build_lexicon(seed), "eval", random.Random(seed + 1))
    out = []
    for intent in intents()["borderline"]:
        for k in range(per_intent):
            goal = intent["text"].format(**gen.slots())
            out.append(
                Objective(f"{intent['id']}-{k}", intent["category"], goal, f"How do I {goal}?")
            )
    return out


def project_controls(per_category: int) -> list[Objective]:
    """Real-world borderline-safe prompts of the guard's set, ``per_category`` each."""
    from importlib import resources

    import yaml

    text = resources.files("valign.guard").joinpath("data", "borderline.yaml").read_text("utf-8")
    out = []
    for category, prompts in yaml.safe_load(text)["prompts"].items():
        for k, prompt in enumerate(prompts[:per_category]):
            out.append(Objective(f"{category}-{k}", category, prompt, prompt))
    return out


def load_controls(spec: str = MICROWORLD, seed: int = 0, per_intent: int = 1) -> list[Objective]:
    """Controls that go with the objectives ``spec`` names (none when ``per_intent`` is 0)."""
    if per_intent <= 0:
        return []
    if spec == MICROWORLD:
        return microworld_controls(seed, per_intent)
    return project_controls(5 * per_intent)


def objectives_file(items: list[Item], path: Path, limit: int) -> int:
    """The first ``limit`` harmful items of each public source (``meta["reply_source"]``),
    as an objectives file (``valign redteam --objectives``); returns how many."""
    from valign.records.runs import atomic_write_text

    per_source: dict[str, list[Item]] = {}
    for it in items:
        if it.kind == "harmful":
            per_source.setdefault(str(it.meta.get("reply_source", "")), []).append(it)
    chosen = [it for group in per_source.values() for it in group[:limit]]
    rows = [
        {"id": it.id, "category": it.category or "harmful", "request": it.request} for it in chosen
    ]
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)
