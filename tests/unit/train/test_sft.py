from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from valign.errors import UserError
from valign.train.sft import SFTSettings, load_demonstrations, sft, sft_trainer

TINY = {"batch_size": 4, "max_steps": 3, "save_steps": 2, "bf16": False, "learning_rate": 1e-3}


def _write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "demos.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_loss_covers_the_reply_and_its_end_token_only(
    tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    rows = [
        {
            "prompt": [{"role": "user", "content": "Add 2 and 3."}],
            "completion": [{"role": "assistant", "content": "2 plus 3 is 5."}],
        }
    ]
    trainer = sft_trainer(tiny_base_model_dir, rows, tmp_path, SFTSettings(**TINY))
    ex = trainer.train_dataset[0]
    tok = AutoTokenizer.from_pretrained(tiny_base_model_dir)
    trained = [t for t in ex["labels"] if t != -100]
    text = tok.decode(trained)
    assert text.startswith("2 plus 3 is 5.<|end|>")
    assert "Add 2" not in text and "<|user|>" not in text
    assert tok.eos_token == "<|end|>"


def test_sft_trains_exports_and_resumes(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    result = sft(tiny_base_model_dir, tiny_world / "sft.jsonl", tmp_path, SFTSettings(**TINY))
    assert result.steps == 3 and result.series("loss")
    model = AutoModelForCausalLM.from_pretrained(result.model_dir)
    assert (
        model.generation_config.eos_token_id
        == AutoTokenizer.from_pretrained(result.model_dir).eos_token_id
    )
    # A second call finds the finished checkpoint and does not train again.
    again = sft(tiny_base_model_dir, tiny_world / "sft.jsonl", tmp_path, SFTSettings(**TINY))
    assert again.steps == 3 and again.seconds < result.seconds + 5


def test_lora_adapters_are_merged_into_the_export(
    tiny_world: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    s = SFTSettings(**{**TINY, "max_steps": 1}, lora={"r": 4, "alpha": 8})
    result = sft(tiny_base_model_dir, tiny_world / "sft.jsonl", tmp_path, s)
    assert (result.model_dir / "config.json").is_file()
    assert not (result.model_dir / "adapter_config.json").exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"nothing": "hello"}, "needs 'messages'"),
        ({"text": ""}, "non-empty"),
        ({"prompt": "hi", "completion": [{"role": "user", "content": "x"}]}, "one assistant"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "at least a user turn"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
            "assistant's reply",
        ),
        ({"prompt": "hi", "completion": ""}, "non-empty"),
        ({"prompt": [{"role": "robot", "content": "hi"}], "completion": "x"}, "bad message"),
    ],
)
def test_bad_demonstrations_name_the_line(tmp_path: Path, row: object, message: str) -> None:
    path = _write(tmp_path, row)
    with pytest.raises(UserError, match=message) as info:
        load_demonstrations(path)
    assert f"{path}:1" in str(info.value)


def test_missing_model_and_file_are_user_errors(tmp_path: Path, tiny_world: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_demonstrations(tmp_path / "nope.jsonl")
    with pytest.raises(UserError, match="model not found"):
        sft(tmp_path / "no-model", tiny_world / "sft.jsonl", tmp_path, SFTSettings(**TINY))


def _parquet(path: Path, rows: list[dict[str, object]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


EXPECTED = {
    "prompt": [{"role": "user", "content": "Add 2 and 3."}],
    "completion": [{"role": "assistant", "content": "5."}],
}


@pytest.mark.parametrize(
    "row",
    [
        {
            "messages": [
                {"role": "user", "content": "Add 2 and 3."},
                {"role": "assistant", "content": "5."},
            ]
        },
        {"prompt": "Add 2 and 3.", "completion": "5."},
        {
            "prompt": [{"role": "user", "content": "Add 2 and 3."}],
            "completion": [{"role": "assistant", "content": "5."}],
        },
    ],
    ids=["messages", "prompt-completion", "conversational-prompt-completion"],
)
def test_trl_formats_from_parquet(tmp_path: Path, row: dict[str, object]) -> None:
    assert load_demonstrations(_parquet(tmp_path / "d.parquet", [row])) == [EXPECTED]
    assert load_demonstrations(_write(tmp_path, row)) == [EXPECTED]


def test_text_rows_train_on_every_token_and_do_not_mix(
    tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    rows = load_demonstrations(_parquet(tmp_path / "t.parquet", [{"text": "2 plus 3 is 5."}]))
    assert rows == [{"text": "2 plus 3 is 5."}]
    trainer = sft_trainer(tiny_base_model_dir, rows, tmp_path, SFTSettings(**TINY))
    ex = trainer.train_dataset[0]
    assert "labels" not in ex or all(t != -100 for t in ex["labels"])
    mixed = _write(tmp_path, {"text": "a"}, {"prompt": "b", "completion": "c"})
    with pytest.raises(UserError, match=r"demos.jsonl:2: 'text' rows and conversations"):
        load_demonstrations(mixed)


def test_demonstrations_from_a_hub_id(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls = []

    def fake_load_dataset(name: str, split: str) -> list[dict[str, object]]:
        calls.append((name, split))
        return [{"prompt": "Add 2 and 3.", "completion": "5."}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    assert load_demonstrations("someone/demos:train") == [EXPECTED]
    assert calls == [("someone/demos", "train")]
