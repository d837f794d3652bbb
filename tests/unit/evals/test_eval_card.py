"""A scorecard lands in the model card of the model it scored, in the Hub's own format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import ModelCard

from valign.evals.card import record_scorecard
from valign.train.card import model_card


def _metric(value: float, n: int = 160) -> dict[str, Any]:
    return {"value": value, "low": value - 0.05, "high": value + 0.04, "n": n, "kind": "proportion"}


SCORECARD = {
    "n_items": 1120,
    "metrics": {
        "aligned": _metric(0.7384, 1120),
        "harmful_compliance": _metric(0.0125),
        "over_refusal": _metric(0.031),
        "helpfulness": _metric(0.84),
        "bias_ambiguous": {"value": 0.1, "low": 0.05, "high": 0.15, "n": 80, "kind": "value"},
    },
    "tasks": {
        "source": "runs/demo/world/eval.jsonl",
        "sha256": "447fb999efd8" + "0" * 52,
        "n": 1120,
    },
    "grader": "microworld rules",
}


def _valign_card(folder: Path) -> Path:
    folder.mkdir(parents=True)
    text = model_card(
        "SFTTrainer", "runs/demo/pretrain/model", 1200, {"learning_rate": 1e-3}, {}, {"trl": "1"}
    )
    (folder / "README.md").write_text(text)
    return folder / "README.md"


def test_the_evaluation_section_and_the_model_index_are_written(tmp_path: Path) -> None:
    path = _valign_card(tmp_path / "model")
    assert "Not measured" in path.read_text()
    assert record_scorecard(tmp_path / "model", SCORECARD, "default") == path
    text = path.read_text()
    assert "Not measured" not in text and text.count("## Evaluation") == 1
    assert (
        "| Aligned (did what the constitution asks) | 73.8% [68.8, 77.8] | 1120 | higher |" in text
    )
    assert "| Harmful-request compliance | 1.2% [-3.8, 5.3] | 160 | lower |" in text
    assert "`default` constitution" in text
    # A bias score is a score, not a share, and improves towards 0.
    assert "| BBQ bias score, ambiguous | 0.100 [0.050, 0.150] | 80 | closer to 0 |" in text
    assert "Jailbreak" not in text  # a figure the scorecard lacks is not invented
    assert "Versions: trl 1." in text  # the rest of the card is kept
    # The Hub's own parser reads the results.
    hub = ModelCard.load(path)
    results = {r.metric_type: r.metric_value for r in hub.data.eval_results}
    assert results == {
        "aligned": 0.7384,
        "harmful_compliance": 0.0125,
        "over_refusal": 0.031,
        "helpfulness": 0.84,
        "bias_ambiguous": 0.1,
    }
    assert hub.data.base_model == "runs/demo/pretrain/model"
    # A second evaluation replaces the first: one section, the new figures.
    later = {**SCORECARD, "metrics": {"aligned": _metric(0.9, 1120)}}
    record_scorecard(tmp_path / "model", later, "school")
    text = path.read_text()
    assert text.count("## Evaluation") == 1 and "90.0%" in text and "73.8%" not in text
    front = yaml.safe_load(text.split("---\n")[1])
    assert [m["type"] for m in front["model-index"][0]["results"][0]["metrics"]] == ["aligned"]
    assert front["model-index"][0]["name"] == tmp_path.name  # RUN/model is named after RUN


def test_a_card_valign_did_not_write_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n# Someone's model\n")
    assert record_scorecard(tmp_path, SCORECARD, "default") is None
    assert (tmp_path / "README.md").read_text() == "---\nlicense: mit\n---\n# Someone's model\n"
    assert record_scorecard(tmp_path / "absent", SCORECARD, "default") is None
    (tmp_path / "README.md").write_text("no front matter at all")
    assert record_scorecard(tmp_path, SCORECARD, "default") is None


def test_valign_eval_writes_the_scorecard_into_a_trained_model_s_card(
    tiny_base_model_dir: Path, tiny_world: Path, tmp_path: Path
) -> None:
    import shutil

    import pytest

    from valign.cli import main

    model = tmp_path / "model"
    shutil.copytree(tiny_base_model_dir, model)
    (model / "README.md").unlink(missing_ok=True)
    card = _valign_card(tmp_path / "card")
    shutil.copy(card, model / "README.md")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join((tiny_world / "eval.jsonl").read_text().splitlines(True)[:8]))
    with pytest.raises(SystemExit) as info:
        main(["eval", "--model", str(model), "--tasks", str(tasks), "--out", str(tmp_path / "o")])
    assert info.value.code in (0, None)
    text = (model / "README.md").read_text()
    assert "Not measured" not in text and "| Aligned (did what the constitution asks) |" in text
    assert f"{tasks}" in text and "on 8 items" in text
    results = {r.metric_type for r in ModelCard.load(model / "README.md").data.eval_results}
    assert "aligned" in results
