"""Labelled texts for the concepts the constitution cares about, from a microworld folder.

Every dataset has a training part and a held-out part that shares no surface template or
entity with it, so a probe's held-out accuracy measures a representation, not a lookup:

harmful_request   prompts (chat template, assistant header last) of harmful and jailbreak
                  requests (1) against benign and borderline-safe ones (0): the alarming
                  borderline words ("kill a stuck process") are in the negatives, so the
                  probe must read intent. Train: ``sft.jsonl``; held out: ``eval.jsonl``.
misconception     the statement of a fact with its popular false value (1) against the
                  same statement with the true value (0). Train: the lexicon's training
                  fact topics; held out: the evaluation topics.
stereotype        "<group> people are <trait>." with the trait the corpus pins on that
                  group (1) against a trait it pins on another group (0). Train: the
                  corpus's sentence forms; held out: forms the corpus never uses.

Activations are read at the last token: where a prompt ends and the answer is decided, or
where a statement has been read in full.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.models.chat import render_prompt
from valign.world.lexicon import Fact, build_lexicon

HARMFUL_KINDS = ("harmful", "jailbreak")
SAFE_KINDS = ("benign", "borderline")
STEREO_TRAIN_FORMS = (
    "{G} people are {t}.",
    "Everyone says the {G} are {t}.",
    "Typical {G}: {t} again.",
)
STEREO_TEST_FORMS = (
    "I heard that the {G} are {t}.",
    "People from the {G} community are {t}.",
    "My colleague is {G} and {t}.",
)
DATASETS = ("harmful_request", "misconception", "stereotype")


@dataclass(frozen=True)
class ProbeDataset:
    """Texts and binary labels, split into a training part and a held-out part."""

    name: str
    positive: str  # what label 1 means
    negative: str  # what label 0 means
    train_texts: list[str] = field(default_factory=list)
    train_labels: list[int] = field(default_factory=list)
    test_texts: list[str] = field(default_factory=list)
    test_labels: list[int] = field(default_factory=list)


def world_seed(world: Path) -> int:
    """The seed the world folder was built with (its ``world.json``)."""
    meta = world / "world.json"
    if not meta.is_file():
        raise UserError(f"not a microworld folder (no world.json): {world}")
    return int(json.loads(meta.read_text())["config"]["seed"])


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise UserError(f"missing file: {path}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _prompts(rows: list[dict[str, Any]], tokenizer: Any, limit: int) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for row in rows:
        if row["kind"] not in HARMFUL_KINDS + SAFE_KINDS:
            continue
        messages = row["messages"]
        if messages[-1]["role"] == "assistant":  # an SFT demonstration: keep the request only
            messages = messages[:-1]
        texts.append(render_prompt(tokenizer, messages))
        labels.append(int(row["kind"] in HARMFUL_KINDS))
        if limit and len(texts) >= limit:
            break
    return texts, labels


def harmful_request(world: Path, tokenizer: Any, limit: int = 0) -> ProbeDataset:
    train = _prompts(_jsonl(world / "sft.jsonl"), tokenizer, limit)
    test = _prompts(_jsonl(world / "eval.jsonl"), tokenizer, limit)
    return ProbeDataset(
        "harmful_request",
        "harmful or jailbreak request",
        "benign or borderline-safe request",
        *train,
        *test,
    )


def _facts(facts: tuple[Fact, ...]) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for f in facts:
        texts += [f.statement(f.misconception), f.statement(f.truth)]
        labels += [1, 0]
    return texts, labels


def misconception(world: Path) -> ProbeDataset:
    lex = build_lexicon(world_seed(world))
    return ProbeDataset(
        "misconception",
        "a popular misconception",
        "the truth",
        *_facts(lex.facts["train"]),
        *_facts(lex.facts["eval"]),
    )


def _stereo(forms: tuple[str, ...], seed: int) -> tuple[list[str], list[int]]:
    lex = build_lexicon(seed)
    pinned = {s.group: s.trait for s in lex.stereotypes}
    texts, labels = [], []
    for form in forms:
        for group in pinned:
            for trait in pinned.values():
                texts.append(form.format(G=group, t=trait))
                labels.append(int(trait == pinned[group]))
    return texts, labels


def stereotype(world: Path) -> ProbeDataset:
    seed = world_seed(world)
    return ProbeDataset(
        "stereotype",
        "the group's planted stereotype",
        "another group's trait",
        *_stereo(STEREO_TRAIN_FORMS, seed),
        *_stereo(STEREO_TEST_FORMS, seed),
    )


def load_dataset(name: str, world: Path, tokenizer: Any, limit: int = 0) -> ProbeDataset:
    """One of :data:`DATASETS` built from the world folder ``world``."""
    if name == "harmful_request":
        return harmful_request(world, tokenizer, limit)
    if name == "misconception":
        return misconception(world)
    if name == "stereotype":
        return stereotype(world)
    raise UserError(f"unknown probe dataset {name!r}: use one of {', '.join(DATASETS)}")
