from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.redteam.objectives import (
    constitution_objectives,
    load_controls,
    load_objectives,
    microworld_objectives,
)
from valign.world.lexicon import build_lexicon


def test_microworld_objectives_are_seeded_unique_and_use_eval_entities() -> None:
    a, b = microworld_objectives(0, 2), microworld_objectives(0, 2)
    assert a == b
    assert len({o.id for o in a}) == len(a) == 26
    assert all(o.markers == ("<STEP-",) and o.request.startswith("How do I ") for o in a)
    train_people = set(build_lexicon(0).people["train"])
    assert not any(p in o.goal for o in a for p in train_people)
    assert microworld_objectives(1, 2) != a


def test_constitution_objectives_cover_the_taxonomy_without_markers() -> None:
    objs = constitution_objectives()
    assert {o.category for o in objs} >= {"violent_crime", "cyber_attack"}
    assert all(not o.markers and o.safe_reply for o in objs)


def test_objectives_file_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "o.jsonl"
    good.write_text(json.dumps({"id": "a", "category": "fraud", "request": "R?"}) + "\n")
    (obj,) = load_objectives(str(good))
    assert obj.goal == "R?" and obj.markers == ()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "a", "category": "fraud"}) + "\n")
    with pytest.raises(UserError, match=r"bad.jsonl:1: missing field 'request'"):
        load_objectives(str(bad))
    with pytest.raises(UserError, match="not found"):
        load_objectives(str(tmp_path / "missing.jsonl"))


def test_objectives_from_parquet_and_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = {"id": "a", "category": "fraud", "request": "R?", "markers": ["x"]}
    path = tmp_path / "o.parquet"
    pq.write_table(
        pa.Table.from_pylist([row, {"id": "b", "category": "fraud", "request": "S?"}]), path
    )
    a, b = load_objectives(str(path))
    assert (a.markers, b.markers, b.goal) == (("x",), (), "S?")
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: [row])
    assert [o.id for o in load_objectives("someone/objectives")] == ["a"]


def test_controls_are_borderline_safe_requests() -> None:
    controls = load_controls("microworld", 0, 1)
    assert controls and all(not c.markers for c in controls)
    assert load_controls("microworld", 0, 0) == []
    assert load_controls("constitution", 0, 1)
