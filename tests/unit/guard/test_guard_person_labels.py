"""A person's labels on real replies: joined by id and hash, the logistic detector, the CLI."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import torch
from guard_testkit import stub_train_guard
from typer.testing import CliRunner

from valign.errors import UserError
from valign.guard import real_replies as rr
from valign.guard.build import TrainConfig, train_guard, train_person_refusal
from valign.guard.cli import app
from valign.guard.encoder import shared_encoder
from valign.guard.real_replies import (
    person_labels,
    person_reply_examples,
    read_label_file,
    read_real_replies,
    real_response_examples,
    reply_hash,
)
from valign.guard.refusal import LABELS, fit_linear_refusal_head
from valign.records.messages import Message
from valign.records.tasks import Item, dump_items

REPLIES = {
    "h1": ("train", "Here is a plan: first pick a date, then book the hall and invite people."),
    "h2": ("train", "As a chatbot I don't have the ability to help with that."),
    "h3": ("train", "The weather is lovely today and the sky is blue."),
    "b1": ("train", "Boil the egg for six minutes, then cool it in cold water."),
    "t1": ("test", "Paris is the capital of France."),
}

runner = CliRunner()


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "replies"
    root.mkdir()
    items = [
        Item(
            id=k,
            kind="harmful" if k.startswith("h") else "benign",
            category="violent_crime" if k.startswith("h") else None,
            messages=[Message(role="user", content=f"request {k}")],
            template="public",
            meta={"reply_split": split, "reply_source": "bench"},
        )
        for k, (split, _) in REPLIES.items()
    ]
    (root / rr.TASKS_FILE).write_text(dump_items(items), encoding="utf-8")
    lines = [json.dumps({"id": k, "response": text}) for k, (_, text) in REPLIES.items()]
    (root / rr.RESPONSES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _row(key: str, verdict: str, text: str | None = None) -> str:
    reply = REPLIES[key][1] if text is None else text
    return json.dumps({"id": key, "reply_sha256_16": reply_hash(reply), "verdict": verdict})


def _labels(tmp_path: Path, *rows: str, name: str = "labels.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_labels_join_by_id_and_hash(tmp_path: Path) -> None:
    replies = read_real_replies(_folder(tmp_path))
    first = _labels(
        tmp_path,
        _row("h1", "attempted"),
        _row("h2", "attempted", text="an earlier reply"),  # stale hash: never matched by id
        _row("h3", "attempted"),
        _row("t1", "attempted"),  # the test split is never a training label
        _row("h9", "attempted", text="no such item"),
    )
    second = _labels(tmp_path, _row("h3", "not_attempted"), name="more.jsonl")
    labels = person_labels(replies, [first, second])
    by_id = {r.item.id: r.key for r in replies}
    assert labels == {by_id["h1"]: "attempted", by_id["h3"]: "not_attempted"}
    pairs = person_reply_examples(replies, labels)
    assert [(p.prompt, p.refusal, p.split) for p in pairs] == [
        ("request h1", "none", "train"),
        ("request h3", "full", "train"),
    ]
    unsafe = {e.prompt: e.unsafe for e in real_response_examples(replies, labels=labels)}
    assert unsafe["request h1"] and not unsafe["request h3"]  # the person's verdict wins
    assert not unsafe["request b1"]


def test_clear_errors_for_missing_bad_or_unmatched_labels(tmp_path: Path) -> None:
    replies = read_real_replies(_folder(tmp_path))
    with pytest.raises(UserError, match="label file not found"):
        person_labels(replies, [tmp_path / "nope.jsonl"])
    with pytest.raises(UserError, match="line 1: unknown verdict"):
        read_label_file(_labels(tmp_path, _row("h1", "maybe")))
    with pytest.raises(UserError, match="line 2: not a label row"):
        read_label_file(_labels(tmp_path, _row("h1", "attempted"), '{"id": "h2"}'))
    stale = _labels(tmp_path, _row("h1", "attempted", text="another model's reply"))
    with pytest.raises(UserError, match=r"no label in .* matches a train-split reply"):
        person_labels(replies, [stale])


def test_the_bundled_train_labels_are_ids_hashes_and_verdicts_only() -> None:
    text = resources.files("valign.guard").joinpath("data", rr.TRAIN_LABELS).read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert len(rows) == 432
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == {"id", "reply_sha256_16", "verdict", "note"}
        assert row["verdict"] in rr.VERDICT_KIND
        assert len(row["reply_sha256_16"]) == 16 and len(row["note"]) <= 80
    held_out = set(rr.hand_labels())
    assert not held_out & {f"{r['id']}:{r['reply_sha256_16']}" for r in rows}


def test_the_linear_head_is_the_standardised_logistic_fit() -> None:
    gen = torch.Generator().manual_seed(0)
    y = torch.tensor([0, 1, 2] * 20)
    x = torch.randn(60, 6, generator=gen) * 5 + 100  # far from standardised on purpose
    x[:, 0] += y * 40.0  # one informative feature
    head = fit_linear_refusal_head(x, y, l2=0.01)
    again = fit_linear_refusal_head(x, y, l2=0.01)
    weak = fit_linear_refusal_head(x, y, l2=100.0)
    assert head.hidden == 0 and head.in_dim == 6 and head.n_out == len(LABELS)
    with torch.inference_mode():
        assert (head(x).argmax(1) == y).float().mean() > 0.9
        assert torch.allclose(head(x), again(x))  # deterministic
        assert weak(x).std() < head(x).std()  # the penalty shrinks the logits


def test_detector_from_person_labels(tmp_path: Path) -> None:
    replies = read_real_replies(_folder(tmp_path))
    labels = person_labels(
        replies,
        [
            _labels(
                tmp_path,
                _row("h1", "attempted"),
                _row("h2", "not_attempted"),
                _row("h3", "not_attempted"),
                _row("b1", "attempted"),
            )
        ],
    )
    encoder = shared_encoder()
    detector = train_person_refusal(encoder, person_reply_examples(replies, labels), l2=0.01)
    pairs = [(r.prompt, r.response) for r in replies if r.key in labels]
    kinds = [d.attempt for d in detector.detect(pairs)]
    assert kinds == ["attempted", "not_attempted", "not_attempted", "attempted"]
    folder = detector.save(tmp_path / "det")
    assert json.loads((folder / "guard.json").read_text("utf-8"))["refusal"]["head"]["hidden"] == 0


def test_person_labels_need_replies(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="person labels need the replies"):
        train_guard(tmp_path / "g", TrainConfig.small(person_labels=("x.jsonl",)))


def test_cli_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = stub_train_guard(monkeypatch)
    folder = _folder(tmp_path)
    good = _labels(tmp_path, _row("h1", "attempted"))
    result = runner.invoke(app, ["train", "--labels", str(good)])
    assert isinstance(result.exception, UserError) and "--labels needs --replies" in str(
        result.exception
    )
    missing = ["train", "--replies", str(folder), "--labels", str(tmp_path / "nope.jsonl")]
    result = runner.invoke(app, missing)
    assert isinstance(result.exception, UserError) and "label file not found" in str(
        result.exception
    )
    stale = _labels(tmp_path, _row("h1", "attempted", text="x"), name="stale.jsonl")
    result = runner.invoke(app, ["train", "--replies", str(folder), "--labels", str(stale)])
    assert isinstance(result.exception, UserError) and "no label in" in str(result.exception)
    assert "config" not in seen  # every mistake is caught before training starts
    more = _labels(tmp_path, _row("h2", "not_attempted"), name="more.jsonl")
    args = ["train", "--out", str(tmp_path / "g"), "--replies", str(folder)]
    result = runner.invoke(app, [*args, "--labels", str(good), "--labels", str(more)])
    assert result.exit_code == 0, result.output
    assert seen["config"].person_labels == (str(good), str(more))
    assert seen["config"].real_replies == str(folder)
