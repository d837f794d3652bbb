from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM

from valign.errors import UserError
from valign.records.comparisons import load_comparisons, to_trl
from valign.train.dpo import DPOSettings, dpo_rows, train_dpo

TINY = {"batch_size": 4, "max_steps": 2, "bf16": False}


def test_rows_are_conversational_preferences(tiny_world: Path) -> None:
    rows = load_comparisons(tiny_world / "preferences.jsonl")
    first = dpo_rows(rows)[0]
    assert first["prompt"][-1]["role"] == "user"
    assert first["chosen"] == [{"role": "assistant", "content": rows[0].chosen}]
    assert first["rejected"] == [{"role": "assistant", "content": rows[0].rejected}]


@pytest.mark.parametrize("precompute", [True, False])
def test_tiny_dpo_moves_the_policy(
    precompute: bool, tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    s = DPOSettings(**TINY, precompute_ref=precompute, learning_rate=1e-2)
    result = train_dpo(tiny_base_model_dir, tiny_world / "preferences.jsonl", tmp_path, s)
    assert result.steps == 2
    assert result.series("rewards/margins")
    before = AutoModelForCausalLM.from_pretrained(tiny_base_model_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(result.model_dir).state_dict()
    assert any(not (before[k] == after[k]).all() for k in before)


def test_empty_preferences_are_a_user_error(tiny_base_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no comparisons"):
        train_dpo(tiny_base_model_dir, [], tmp_path, DPOSettings(**TINY))


def test_a_trl_preference_file_trains_like_valign_s_own(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    rows = load_comparisons(tiny_world / "preferences.jsonl")[:16]
    trl_file = tmp_path / "trl.jsonl"
    trl_file.write_text("".join(json.dumps(to_trl(r)) + "\n" for r in rows))
    result = train_dpo(tiny_base_model_dir, trl_file, tmp_path / "out", DPOSettings(**TINY))
    assert result.steps == 2 and result.series("rewards/margins")
