"""The constitution file format, as pydantic models.

A constitution is data: a taxonomy of harm categories and a list of principles that point
into it. Every later stage reads the same models (the guard's policy, the red-team
objectives, the evaluator's rubric, the scorecard rows), so the checks that keep a file
coherent live here, once: ids are snake_case and unique, and every principle names only
categories that exist.

Cross-reference problems are raised as a :class:`~pydantic_core.PydanticCustomError` whose
context carries ``at``, the path of the offending value (for example
``("principles", 3, "categories", 0)``), so a loader can point at the exact line of a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "OPENAI_MODERATION_CATEGORIES",
    "REFERENCE_ERROR",
    "Category",
    "Constitution",
    "Example",
    "Overlay",
    "Principle",
]

#: The pydantic error type used for duplicate ids and dangling category references.
REFERENCE_ERROR = "constitution_reference"

_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


def _check_id(value: str) -> str:
    if not _ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"ids are snake_case (lowercase letters, digits and underscores, "
            f"starting with a letter), got {value!r}"
        )
    return value


#: OpenAI's moderation categories (omni-moderation), in the order its API lists them. A
#: category of the taxonomy can name the ones it covers, so an OpenAI-compatible guard
#: server reports them beside valign's own ids.
OpenAIModerationCategory = Literal[
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
]
OPENAI_MODERATION_CATEGORIES: tuple[str, ...] = get_args(OpenAIModerationCategory)

#: A snake_case identifier, stable across versions: other files refer to it.
Id = Annotated[str, AfterValidator(_check_id)]
#: Text that must not be empty.
Text = Annotated[str, Field(min_length=1)]


def _reference_error(message: str, at: tuple[str | int, ...]) -> PydanticCustomError:
    return PydanticCustomError(REFERENCE_ERROR, message, {"at": at})


def _first_duplicate(ids: Iterable[str]) -> tuple[int, str] | None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value in seen:
            return index, value
        seen.add(value)
    return None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Category(_Frozen):
    """One harm category of the policy taxonomy (what a guard classifies against)."""

    id: Id = Field(description="Stable snake_case id that principles and other files refer to.")
    name: Text = Field(description="Short human-readable name.")
    description: Text = Field(
        description="Policy text: what content in this category the model must not produce."
    )
    examples_of_harm: list[str] = Field(
        default_factory=list,
        description="Abstract descriptions of harms covered (never instructions).",
    )
    openai_moderation: list[OpenAIModerationCategory] = Field(
        default_factory=list,
        description=(
            "OpenAI moderation categories whose content this category covers (reported by the "
            "guard server's /v1/moderations); empty when OpenAI's taxonomy has no counterpart."
        ),
    )


class Example(_Frozen):
    """A labelled response showing what following or violating a principle looks like."""

    prompt: Text = Field(description="The user's message.")
    response: Text = Field(description="A model response to it.")
    verdict: Literal["follows", "violates"] = Field(
        description="Whether the response follows or violates the principle."
    )
    note: str = Field(default="", description="Why the verdict holds (optional).")


class Principle(_Frozen):
    """One value the model should follow, with the requests that enforce it."""

    id: Id = Field(description="Stable snake_case id.")
    text: Text = Field(description="The principle, as one or two plain sentences.")
    source: Text = Field(
        description="Where it comes from, e.g. 'Universal Declaration of Human Rights, Art. 2'."
    )
    categories: list[Id] = Field(
        default_factory=list,
        description="Ids of the taxonomy categories it covers; empty for general principles.",
    )
    critique_request: Text = Field(
        description="Asks the evaluator to find how a response falls short of the principle."
    )
    revision_request: Text = Field(
        description="Asks the model to rewrite a response so that it follows the principle."
    )
    examples: list[Example] = Field(
        default_factory=list, description="Labelled responses that follow or violate it."
    )


class Constitution(_Frozen):
    """A statement of values: a harm taxonomy and the principles that refer to it."""

    name: Text = Field(description="Name of the constitution.")
    version: Text = Field(description='Version string (quote it in YAML: "1.0").')
    description: Text = Field(description="What the constitution is for and whom it speaks for.")
    refusal_message: Text = Field(
        description="What a guard or aligned model says when it declines a request."
    )
    categories: list[Category] = Field(description="The harm taxonomy.")
    principles: list[Principle] = Field(description="The principles, most general first.")
    provenance: dict[str, Any] = Field(
        default_factory=dict,
        description="Where the file came from and, after composing, which overlay set what.",
    )

    @model_validator(mode="after")
    def _check_references(self) -> Constitution:
        duplicate = _first_duplicate(c.id for c in self.categories)
        if duplicate:
            index, value = duplicate
            raise _reference_error(f"duplicate category id {value!r}", ("categories", index, "id"))
        duplicate = _first_duplicate(p.id for p in self.principles)
        if duplicate:
            index, value = duplicate
            raise _reference_error(f"duplicate principle id {value!r}", ("principles", index, "id"))
        known = {c.id for c in self.categories}
        for p_index, principle in enumerate(self.principles):
            for c_index, category_id in enumerate(principle.categories):
                if category_id not in known:
                    raise _reference_error(
                        f"unknown category {category_id!r} (known: {', '.join(sorted(known))})",
                        ("principles", p_index, "categories", c_index),
                    )
        return self

    @property
    def category_ids(self) -> list[str]:
        """Category ids in file order."""
        return [c.id for c in self.categories]

    @property
    def principle_ids(self) -> list[str]:
        """Principle ids in file order."""
        return [p.id for p in self.principles]

    def category(self, id: str) -> Category:
        """The category with this id; ``KeyError`` naming the known ids if there is none."""
        for category in self.categories:
            if category.id == id:
                return category
        raise KeyError(f"unknown category {id!r} (known: {', '.join(self.category_ids)})")

    def principle(self, id: str) -> Principle:
        """The principle with this id; ``KeyError`` naming the known ids if there is none."""
        for principle in self.principles:
            if principle.id == id:
                return principle
        raise KeyError(f"unknown principle {id!r} (known: {', '.join(self.principle_ids)})")

    def principles_for(self, category_id: str) -> list[Principle]:
        """The principles that cover a category, in file order."""
        self.category(category_id)  # unknown ids are a mistake, not an empty answer
        return [p for p in self.principles if category_id in p.categories]


class Overlay(_Frozen):
    """Changes to a base constitution for a region, community or organisation.

    See :mod:`valign.values.compose` for how overlays are applied and which one wins.
    """

    name: Text = Field(description="Name of the overlay, used in provenance and errors.")
    description: Text = Field(description="Whose values it expresses and why.")
    precedence: int = Field(
        default=0,
        description="Higher wins when several overlays touch the same id; "
        "ties go to the overlay listed later.",
    )
    add_categories: list[Category] = Field(
        default_factory=list, description="New categories (their ids must be new)."
    )
    remove_categories: list[Id] = Field(
        default_factory=list, description="Ids of categories to remove."
    )
    override_categories: list[Category] = Field(
        default_factory=list, description="Categories replacing the one with the same id."
    )
    add_principles: list[Principle] = Field(
        default_factory=list, description="New principles (their ids must be new)."
    )
    remove_principles: list[Id] = Field(
        default_factory=list, description="Ids of principles to remove."
    )
    override_principles: list[Principle] = Field(
        default_factory=list, description="Principles replacing the one with the same id."
    )
    refusal_message: str | None = Field(
        default=None, description="Replaces the refusal message when set."
    )

    @model_validator(mode="after")
    def _check_ids(self) -> Overlay:
        for kind, noun in (("categories", "category"), ("principles", "principle")):
            owner: dict[str, str] = {}
            for action in ("remove", "override", "add"):
                field = f"{action}_{kind}"
                items: list[Any] = getattr(self, field)
                for index, item in enumerate(items):
                    item_id = item if isinstance(item, str) else item.id
                    at: tuple[str | int, ...] = (field, index)
                    if not isinstance(item, str):
                        at = (*at, "id")
                    if item_id in owner:
                        where = "twice" if owner[item_id] == field else f"also in {owner[item_id]}"
                        raise _reference_error(
                            f"{noun} id {item_id!r} appears {where}",
                            at,
                        )
                    owner[item_id] = field
        return self
