"""Filter policies are data: an ordered list of rules in a YAML file.

    name: clean-microworld
    rules:
      - action: dedup            # drop duplicates, keeping the first of each cluster
        kinds: [exact, near]
      - action: drop             # drop what the guard flags
        what: harm
        categories: []           # [] = any category
        threshold: null          # null = the guard's calibrated thresholds; or a score
      - action: drop
        what: contested_claims   # hearsay values a sourced statement contradicts
      - action: redact
        what: pii
        kinds: [email, phone, card, iban, national_id, ip, address]
      - action: rebalance        # downsample documents about over-represented groups
        axis: microworld_group
        max_ratio: 1.5
      - action: counterfactual   # swap group terms where a stereotype tie occurs
        mode: augment            # augment: add the swapped copy; replace: swap in place

Rules apply to each document in order; the first rule that drops a document decides why
it was dropped, and later rules do not see it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valign.data.pii import KINDS as PII_KINDS
from valign.errors import UserError
from valign.settings import read_yaml


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Dedup(_Rule):
    action: Literal["dedup"]
    kinds: list[Literal["exact", "near"]] = Field(
        ["exact", "near"], description="Duplicate kinds to drop."
    )


class DropHarm(_Rule):
    action: Literal["drop"]
    what: Literal["harm"]
    categories: list[str] = Field(
        default_factory=list, description="Taxonomy categories to drop; empty: any."
    )
    threshold: float | None = Field(
        None,
        description="Drop at this category (or unsafe) score; null: the guard's own flag.",
    )


class DropClaims(_Rule):
    action: Literal["drop"]
    what: Literal["contested_claims"]
    min_hearsay: int = Field(2, description="Only claims repeated at least this often.")


class DropToxicity(_Rule):
    action: Literal["drop"]
    what: Literal["toxicity"]
    min_terms: int = Field(1, description="Insult-lexicon matches from which to drop.")


class DropPII(_Rule):
    action: Literal["drop"]
    what: Literal["pii"]
    kinds: list[str] = Field(default_factory=lambda: list(PII_KINDS))


class RedactPII(_Rule):
    action: Literal["redact"]
    what: Literal["pii"] = "pii"
    kinds: list[str] = Field(default_factory=lambda: list(PII_KINDS))


class Rebalance(_Rule):
    action: Literal["rebalance"]
    axis: str = Field(description="Group axis of the lexicons, e.g. gender.")
    max_ratio: float = Field(
        1.5, gt=1.0, description="Most documents a group may have, relative to the least."
    )


class Counterfactual(_Rule):
    action: Literal["counterfactual"]
    mode: Literal["augment", "replace"] = Field(
        "augment",
        description="Add relabelled copies (augment) or relabel in place by a shift chosen "
        "by the document id, zero included (replace: substitution, the corpus keeps its size).",
    )
    copies: Literal["all", "one"] = Field(
        "all",
        description="Augment with every counterfactual (each other group in turn: balanced) "
        "or with one (a group chosen by the document id).",
    )
    ties: Literal["flagged", "all"] = Field(
        "flagged",
        description="Documents carrying a flagged stereotype tie, or every document "
        "mentioning a group with any trait.",
    )


DropRule = Annotated[DropHarm | DropClaims | DropToxicity | DropPII, Field(discriminator="what")]
Rule = Annotated[
    Dedup | DropRule | RedactPII | Rebalance | Counterfactual, Field(discriminator="action")
]


class Policy(BaseModel):
    """A named, ordered list of rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Name recorded with the filtered corpus.")
    description: str = Field("", description="What the policy is for.")
    rules: list[Rule] = Field(min_length=1, description="Rules, applied in order.")


def bundled_policies() -> list[str]:
    root = Path(str(resources.files("valign.data").joinpath("policies")))
    return sorted(p.stem for p in root.glob("*.yaml"))


def resolve_policy(name_or_path: str) -> Path:
    """A policy file path, or the bundled policy of that name (``default``, ``microworld``)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    if name_or_path not in bundled_policies():
        raise UserError(
            f"no policy file or bundled policy {name_or_path!r} "
            f"(bundled: {', '.join(bundled_policies())})"
        )
    return Path(str(resources.files("valign.data").joinpath("policies", f"{name_or_path}.yaml")))


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; mistakes are one-line errors with the field."""
    data = read_yaml(path, "policy file")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "policy"
        raise UserError(f"{path}: {loc}: {err['msg']}") from None
    for rule in policy.rules:
        kinds = getattr(rule, "kinds", None)
        if isinstance(rule, DropPII | RedactPII) and kinds:
            unknown = set(kinds) - set(PII_KINDS)
            if unknown:
                raise UserError(f"{path}: unknown PII kinds {sorted(unknown)} (known: {PII_KINDS})")
    return policy
