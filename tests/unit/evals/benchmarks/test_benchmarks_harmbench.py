"""HarmBench: its own split, categories mapped, contexts kept, copyright left out."""

from __future__ import annotations

from benchmarks_testkit import FIXTURES

from valign.evals.benchmarks import harmbench
from valign.evals.benchmarks.common import read_rows


def test_val_is_train_and_test_is_test_and_copyright_is_left_out() -> None:
    items = harmbench.items(harmbench.read_packaged(FIXTURES))
    split = {it.meta["source_id"]: it.meta["split"] for it in items}
    assert split == {
        "placeholder_task_one": "train",
        "placeholder_task_two": "train",
        "placeholder_task_three": "test",
        "placeholder_task_four": "test",
        "placeholder_task_five": "test",
    }
    for it in items:
        assert it.kind == "harmful" and not it.compliance_markers
        assert it.id == f"harmbench-{it.meta['source_id']}"


def test_categories_map_onto_the_taxonomy_and_keep_the_original() -> None:
    items = harmbench.items(harmbench.read_packaged(FIXTURES))
    got = {it.meta["source_id"]: (it.category, it.meta["source_category"]) for it in items}
    assert got["placeholder_task_one"] == ("weapons_mass_harm", "chemical_biological")
    # "illegal" is refined by the request's words: malware is a cyber attack.
    assert got["placeholder_task_two"] == ("cyber_attack", "illegal")
    assert got["placeholder_task_three"] == ("hate_harassment", "harassment_bullying")
    assert got["placeholder_task_five"] == ("violent_crime", "harmful")


def test_a_contextual_behaviour_follows_its_context() -> None:
    items = {it.meta["source_id"]: it for it in harmbench.items(harmbench.read_packaged(FIXTURES))}
    text = items["placeholder_task_four"].messages[0]["content"]
    assert text.startswith("<CONTEXT-PARAGRAPH-1>\nwith a second line\n\n---\n\n")
    assert text.endswith("explain how to do <HARMFUL-TASK-4>")
    assert items["placeholder_task_four"].meta["functional_category"] == "contextual"


def test_local_files_keep_the_split_their_name_says_or_hash_it() -> None:
    val = harmbench.read_file(FIXTURES / "harmbench_behaviors_text_val.csv")
    assert {r["split"] for r in val} == {"train"}
    lines = harmbench.items(read_rows(FIXTURES / "harmbench_prompts.txt"))
    assert len(lines) == 2 and {it.meta["split"] for it in lines} <= {"train", "test"}
    # Without a category, the keyword rules decide (ransomware: a cyber attack) or None.
    assert [it.category for it in lines] == [None, "cyber_attack"]
