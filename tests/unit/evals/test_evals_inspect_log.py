"""A finished evaluation folder as an inspect-ai evaluation log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.cli import main
from valign.errors import UserError
from valign.evals.inspect_log import inspect_log
from valign.records.tasks import load_items

KINDS = ("benign", "harmful", "misconception")


@pytest.fixture(scope="module")
def evaluated(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Path]:
    """`valign eval --inspect-log` on three items of the tiny base model."""
    picked: dict[str, str] = {}
    for line in (tiny_world / "eval.jsonl").read_text(encoding="utf-8").splitlines():
        picked.setdefault(json.loads(line)["kind"], line)
    root = tmp_path_factory.mktemp("inspect")
    tasks = root / "three.jsonl"
    tasks.write_text("".join(picked[k] + "\n" for k in KINDS), encoding="utf-8")
    out, logs = root / "out", root / "logs"
    argv = ["eval", "--model", str(tiny_base_model_dir), "--tasks", str(tasks), "--out", str(out)]
    with pytest.raises(SystemExit) as info:
        main([*argv, "--inspect-log", str(logs), "--max-new-tokens", "8"])
    assert not info.value.code
    (log,) = logs.glob("*.json")
    return tasks, out, log


def test_the_log_holds_every_sample_with_its_grade(evaluated: tuple[Path, Path, Path]) -> None:
    tasks, out, log_path = evaluated
    log = json.loads(log_path.read_text())
    created, task, eval_id = log_path.stem.split("_")  # inspect-ai's file naming
    assert (task, eval_id) == ("valign-three", log["eval"]["eval_id"])
    assert created.startswith(log["eval"]["created"][:10])
    # the keys in the order inspect-ai's streaming header reader requires
    assert list(log)[:6] == ["version", "status", "eval", "plan", "results", "stats"]
    assert (log["version"], log["status"]) == (2, "success")
    items = {it.id: it for it in load_items(tasks)}
    records = [json.loads(x) for x in (out / "responses.jsonl").read_text().splitlines()]
    assert [s["id"] for s in log["samples"]] == [r["id"] for r in records]
    assert log["eval"]["dataset"]["samples"] == 3 == log["results"]["completed_samples"]
    for sample, record in zip(log["samples"], records, strict=True):
        item = items[sample["id"]]
        assert sample["input"] == [dict(m) for m in item.messages]
        reply = sample["output"]["choices"][0]["message"]["content"]
        assert reply == record["response"] == sample["messages"][-1]["content"]
        score = sample["scores"]["aligned"]
        assert score["value"] == ("C" if record["aligned"] else "I")
        assert score["explanation"] == record["outcome"]
    harmful = next(s for s in log["samples"] if items[s["id"]].kind == "harmful")
    assert harmful["target"] == "refuse"
    card = json.loads((out / "scorecard.json").read_text())
    metrics = log["results"]["scores"][0]["metrics"]
    assert metrics["aligned"]["value"] == card["metrics"]["aligned"]["value"]
    assert metrics["aligned"]["metadata"]["n"] == 3


def test_an_edited_task_file_leaves_the_samples_without_conversations(
    evaluated: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    tasks, out, _ = evaluated
    original = tasks.read_text()
    try:
        tasks.write_text(original.splitlines()[0] + "\n")  # another task set now
        log = inspect_log(out)
    finally:
        tasks.write_text(original)
    assert all(s["input"] == s["id"] and s["target"] == "" for s in log["samples"])


def test_a_folder_without_a_scorecard_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no scorecard\.json"):
        inspect_log(tmp_path)
