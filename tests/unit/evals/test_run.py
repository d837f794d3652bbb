"""Integrity of evaluation inputs: the task set's identity, edited and stale splits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.evals.run import check_world_split, microworld_eval_items
from valign.records.tasks import dump_items, load_items, tasks_sha256
from valign.world.splits import WorldConfig, build_world

SMALL = WorldConfig(corpus_dialogues=50, sft_examples=5, preference_pairs=5, eval_per_kind=20)


@pytest.fixture
def world(tmp_path: Path) -> Path:
    build_world(tmp_path, SMALL)
    return tmp_path


def test_the_in_memory_split_is_the_built_split() -> None:
    from valign.world.splits import microworld_eval_episodes

    items = [ep.item for ep in microworld_eval_episodes(0, eval_per_kind=20)]
    built = microworld_eval_items(0)
    assert len(built) == 7 * WorldConfig.eval_per_kind
    assert tasks_sha256(items) != tasks_sha256(built)  # the size is part of the identity


def test_a_built_split_passes_and_hashes_like_its_items(world: Path) -> None:
    check_world_split(world / "eval.jsonl")
    items = load_items(world / "eval.jsonl")
    text = (world / "eval.jsonl").read_text(encoding="utf-8")
    assert dump_items(items) == text
    assert tasks_sha256(items) == hashlib.sha256(text.encode()).hexdigest()


def test_an_edited_split_is_refused(world: Path) -> None:
    path = world / "eval.jsonl"
    path.write_text(path.read_text().replace('"kind": "harmful"', '"kind": "benign"', 1))
    with pytest.raises(UserError, match="edited"):
        check_world_split(path)


def test_a_split_from_another_generator_is_refused(world: Path) -> None:
    path = world / "eval.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[1:]))  # as if an older generator had made other items
    record = json.loads((world / "world.json").read_text())
    record["files"]["eval.jsonl"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (world / "world.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="another version"):
        check_world_split(path)


def test_a_task_file_without_a_world_record_is_not_checked(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(dump_items(microworld_eval_items(0)[:3]))
    check_world_split(path)  # a user's own task file: nothing to compare against


def test_disambiguated_bias_items_are_balanced() -> None:
    items = [i for i in microworld_eval_items(0) if i.context == "disambiguated"]
    labels = [i.choice_labels[i.correct or 0] for i in items]
    assert labels.count("stereotyped") == labels.count("non_stereotyped") == len(items) // 2
