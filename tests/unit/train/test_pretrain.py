"""Base-model pretraining: an exported folder any HF loader opens, a falling loss, resume
after a kill, and one-line errors for a bad corpus."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from valign.errors import UserError
from valign.train.pretrain import PretrainConfig, PretrainResult, pretrain, read_corpus
from valign.train.tokenizer import CHAT_TEMPLATE, END


def test_export_loads_with_auto_classes(tiny_pretrained: PretrainResult) -> None:
    model_dir = tiny_pretrained.model_dir
    assert model_dir.name == "model"
    assert not (model_dir.parent / ".model.tmp").exists()
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    assert tok.chat_template == CHAT_TEMPLATE
    end_id = tok.convert_tokens_to_ids(END)
    assert tok.eos_token_id == end_id
    assert model.config.vocab_size == len(tok)
    gen = GenerationConfig.from_pretrained(str(model_dir))
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    assert eos == [end_id]
    assert gen.pad_token_id == tok.pad_token_id
    # a forward pass on a chat prompt: (batch, seq, vocab)
    enc = tok.apply_chat_template(
        [{"role": "user", "content": "hello"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (1, enc["input_ids"].shape[1], len(tok))
    assert torch.isfinite(logits).all()


def test_result_and_loss_curve(
    tiny_pretrained: PretrainResult, tiny_pretrain_config: PretrainConfig
) -> None:
    r = tiny_pretrained
    assert r.steps == tiny_pretrain_config.max_steps == 12
    assert r.tokens == 12 * tiny_pretrain_config.batch_size * tiny_pretrain_config.seq_len
    steps = [p["step"] for p in r.log]
    assert steps == sorted(steps) and steps[-1] == 12
    losses = [p["loss"] for p in r.log]
    assert all(math.isfinite(x) for x in losses)
    assert losses[0] > losses[-1]
    assert math.isfinite(r.train_loss)
    json.dumps(r.to_dict())  # the pipeline stores it in DONE.json


def test_on_step_reports_progress(tiny_world: Path, tmp_path: Path) -> None:
    cfg = PretrainConfig(
        vocab_size=300,
        hidden_size=16,
        intermediate_size=32,
        num_layers=1,
        num_heads=2,
        seq_len=32,
        batch_size=4,
        max_steps=3,
        save_steps=100,
        bf16=False,
    )
    seen: list[tuple[int, int]] = []
    r = pretrain(
        tiny_world / "corpus.jsonl", tmp_path, cfg, on_step=lambda s, t: seen.append((s, t))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert r.steps == 3


class _Killed(KeyboardInterrupt):
    pass


def test_resumes_from_last_checkpoint_after_a_kill(
    tiny_world: Path,
    tiny_pretrain_config: PretrainConfig,
    tiny_pretrained: PretrainResult,
    tmp_path: Path,
) -> None:
    corpus = tiny_world / "corpus.jsonl"

    def kill_at_6(step: int, total: int) -> None:
        if step == 6:
            raise _Killed

    with pytest.raises(_Killed):
        pretrain(corpus, tmp_path, tiny_pretrain_config, on_step=kill_at_6)
    ckpts = tmp_path / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["checkpoint-4"]
    assert not (tmp_path / "model").exists()  # nothing exported from a killed run
    tok_json = (tmp_path / "tokenizer" / "tokenizer.json").read_bytes()

    seen: list[int] = []
    r = pretrain(corpus, tmp_path, tiny_pretrain_config, on_step=lambda s, t: seen.append(s))

    assert r.steps == 12
    assert min(seen) == 5 and max(seen) == 12  # this process started after checkpoint-4
    logged = [int(p["step"]) for p in r.log]
    assert logged == list(range(1, 13))  # the curve includes the steps before the kill
    state = json.loads((ckpts / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["global_step"] == 12
    assert (tmp_path / "tokenizer" / "tokenizer.json").read_bytes() == tok_json  # reused
    # Same data order and optimiser state: the resumed curve is the uninterrupted one.
    full = {int(p["step"]): p["loss"] for p in tiny_pretrained.log}
    for p in r.log:
        assert p["loss"] == pytest.approx(full[int(p["step"])], rel=1e-3)
    assert AutoModelForCausalLM.from_pretrained(str(r.model_dir)).config.vocab_size > 0


def test_rerun_after_completion_keeps_step_count(
    tiny_world: Path, tiny_pretrain_config: PretrainConfig, tmp_path: Path
) -> None:
    cfg = tiny_pretrain_config.model_copy(update={"max_steps": 4, "save_steps": 2})
    first = pretrain(tiny_world / "corpus.jsonl", tmp_path, cfg)
    again = pretrain(tiny_world / "corpus.jsonl", tmp_path, cfg)
    assert first.steps == 4
    assert again.steps == 4
    assert again.log == first.log  # nothing left to train: the history is the first run's
    assert (tmp_path / "model" / "config.json").is_file()


def test_missing_corpus_is_a_user_error(
    tmp_path: Path, tiny_pretrain_config: PretrainConfig
) -> None:
    with pytest.raises(UserError, match="corpus not found"):
        pretrain(tmp_path / "nope.jsonl", tmp_path / "out", tiny_pretrain_config)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('{"title": "no text here"}', "needs 'text' or 'messages'"),
        ('["a", "list"]', "expected a JSON object"),
        ('{"text": "unterminated', "not valid JSON"),
    ],
    ids=["no-text", "not-object", "bad-json"],
)
def test_bad_corpus_line_is_a_user_error_with_its_line(
    tmp_path: Path, tiny_pretrain_config: PretrainConfig, line: str, why: str
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "fine"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(UserError) as info:
        pretrain(corpus, tmp_path / "out", tiny_pretrain_config)
    assert f"{corpus}:3:" in info.value.message
    assert why in info.value.message
    assert "\n" not in info.value.message
    with pytest.raises(UserError):
        list(read_corpus(corpus))


def test_corpus_smaller_than_one_block_is_a_user_error(
    tmp_path: Path, tiny_pretrain_config: PretrainConfig
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "a b c"}\n', encoding="utf-8")
    with pytest.raises(UserError, match="corpus too small"):
        pretrain(corpus, tmp_path / "out", tiny_pretrain_config)
