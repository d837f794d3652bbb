"""Rules: deny and allow lists of regular expressions, for what must always be blocked or passed.

A rules file is YAML (see the bundled ``data/rules.yaml``)::

    deny:
      - pattern: '\\bransomware\\b'     # case-insensitive regular expression
        category: cyber_attack        # taxonomy category, or null
        side: either                  # prompt | response | either (default)
    allow:
      - pattern: '\\bbath bombs?\\b'

A text is flagged when a deny rule matches and no allow rule does. Scores are 0 or 1.
Rules can also come from a constitution that carries a ``guard_rules`` mapping of the same
shape (:meth:`RuleGuard.from_constitution`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from valign.errors import UserError
from valign.guard.types import GuardInput, GuardVerdict, register_backend

SIDES = ("prompt", "response", "either")


@dataclass(frozen=True)
class Rule:
    """One compiled rule."""

    pattern: re.Pattern[str]
    category: str | None = None
    side: str = "either"
    note: str = ""

    def matches(self, item: GuardInput) -> bool:
        """Whether the rule fires on the side it reads. A response is judged by its response
        (and "either" rules also read its prompt only when there is no response)."""
        if item.response is None:
            return self.side != "response" and bool(self.pattern.search(item.prompt))
        return self.side != "prompt" and bool(self.pattern.search(item.response))


def _compile(raw: Any, where: str, kind: str, index: int, known: set[str] | None) -> Rule:
    at = f"{where}: {kind}[{index}]"
    if isinstance(raw, str):
        raw = {"pattern": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("pattern"), str):
        raise UserError(f"{at}: a rule needs a 'pattern' string")
    unknown = {str(k) for k in raw} - {"pattern", "category", "side", "note"}
    if unknown:
        raise UserError(f"{at}: unknown field(s) {', '.join(sorted(unknown))}")
    side = raw.get("side") or "either"
    if side not in SIDES:
        raise UserError(f"{at}: 'side' must be one of {', '.join(SIDES)}, got {side!r}")
    category = raw.get("category")
    if category is not None and known is not None and category not in known:
        raise UserError(f"{at}: unknown category {category!r} (known: {', '.join(sorted(known))})")
    try:
        pattern = re.compile(raw["pattern"], re.IGNORECASE)
    except re.error as exc:
        raise UserError(f"{at}: invalid regular expression: {exc}") from exc
    return Rule(pattern, category, side, str(raw.get("note") or ""))


class RuleGuard:
    """Deny/allow regular expressions as a guard backend."""

    name = "rules"

    def __init__(self, deny: Sequence[Rule], allow: Sequence[Rule], categories: Sequence[str]):
        self.deny, self.allow = list(deny), list(allow)
        self.categories = list(categories)

    @classmethod
    def from_mapping(cls, data: Any, categories: Sequence[str], where: str = "rules") -> RuleGuard:
        """Rules from a parsed mapping with ``deny`` and ``allow`` lists."""
        if not isinstance(data, Mapping):
            raise UserError(f"{where}: expected a mapping with 'deny' and 'allow' lists")
        unknown = {str(k) for k in data} - {"deny", "allow"}
        if unknown:
            raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        known = set(categories)
        lists: dict[str, list[Rule]] = {}
        for kind in ("deny", "allow"):
            raw = data.get(kind) or []
            if not isinstance(raw, list):
                raise UserError(f"{where}: '{kind}' must be a list")
            lists[kind] = [_compile(r, where, kind, i, known) for i, r in enumerate(raw)]
        return cls(lists["deny"], lists["allow"], categories)

    @classmethod
    def from_file(cls, path: str | Path, categories: Sequence[str]) -> RuleGuard:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"cannot read rules file {path}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise UserError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
        return cls.from_mapping(data, categories, str(path))

    @classmethod
    def bundled(cls, categories: Sequence[str]) -> RuleGuard:
        text = resources.files("valign.guard").joinpath("data", "rules.yaml").read_text("utf-8")
        return cls.from_mapping(yaml.safe_load(text), categories, "bundled rules.yaml")

    @classmethod
    def from_constitution(cls, constitution: Any) -> RuleGuard:
        """Rules from a constitution's ``guard_rules`` field; the bundled rules if it has none."""
        categories = list(constitution.category_ids)
        data = getattr(constitution, "guard_rules", None)
        if data is None:
            return cls.bundled(categories)
        if hasattr(data, "model_dump"):
            data = data.model_dump()
        return cls.from_mapping(data, categories, f"constitution {constitution.name!r}")

    def _verdict(self, item: GuardInput) -> GuardVerdict:
        denied = [r for r in self.deny if r.matches(item)]
        allowed = [r for r in self.allow if r.matches(item)]
        flagged = bool(denied) and not allowed
        hits = tuple(dict.fromkeys(r.category for r in denied if r.category)) if flagged else ()
        scores = {c: 1.0 if c in hits else 0.0 for c in self.categories}
        detail: dict[str, Any] = {}
        if denied:
            detail["deny"] = [r.pattern.pattern for r in denied]
        if allowed:
            detail["allow"] = [r.pattern.pattern for r in allowed]
        return GuardVerdict(flagged, 1.0 if flagged else 0.0, scores, hits, self.name, detail)

    def classify(self, inputs: Sequence[GuardInput]) -> list[GuardVerdict]:
        return [self._verdict(i) for i in inputs]


@register_backend("rules", help="Deny/allow regular expressions (bundled defaults or a YAML file).")
def rules_backend(
    path: str | Path | None = None, constitution: str | Any = "default", **_: Any
) -> RuleGuard:
    """Rules from ``path`` (YAML), else from the constitution, else the bundled defaults."""
    from valign.values import Constitution, load_constitution

    const = (
        constitution if isinstance(constitution, Constitution) else load_constitution(constitution)
    )
    if path is not None:
        return RuleGuard.from_file(path, const.category_ids)
    return RuleGuard.from_constitution(const)
