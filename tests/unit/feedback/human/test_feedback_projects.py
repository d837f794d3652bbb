from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.feedback.human import Store, add_items, items_from_model, read_items
from valign.feedback.human.projects import count_items, get_project


def _file(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_pairwise_lines_and_comparison_lines(store: Store, tmp_path: Path) -> None:
    project = get_project(store, "p1")
    path = _file(
        tmp_path,
        {"id": "n1", "prompt": "Hi?", "response_a": "Hello.", "response_b": "No.", "gold": "A"},
        {
            "id": "c1",
            "prompt": [{"role": "user", "content": "Hi?"}],
            "chosen": "Hello.",
            "rejected": "No.",
            "source": "rule",
        },
    )
    rows = read_items(path, project)
    assert rows[0]["gold"] == "A" and rows[0]["prompt"][0]["role"] == "user"
    assert {rows[1]["response_a"], rows[1]["response_b"]} == {"Hello.", "No."}
    assert rows[1]["meta"]["source"] == "rule"
    before = count_items(store, project.id)
    assert add_items(store, "p1", rows) == 2
    assert count_items(store, project.id) == before + 2
    with pytest.raises(UserError, match="already in project"):
        add_items(store, "p1", rows)  # re-running an import never duplicates


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"prompt": "Hi?", "response_a": "x"}, "needs 'response_a' and 'response_b'"),
        ({"prompt": "Hi?", "response_a": "x", "response_b": "y", "gold": "C"}, "gold must be"),
        (
            {
                "prompt": [{"role": "assistant", "content": "x"}],
                "response_a": "x",
                "response_b": "y",
            },
            "last turn",
        ),
        ({"prompt": "Hi?", "response_a": "x", "response_b": "y", "typo": 1}, "typo"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_lines_name_file_and_line(
    store: Store, tmp_path: Path, row: object, message: str
) -> None:
    path = _file(tmp_path, {"prompt": "ok", "response_a": "a", "response_b": "b"}, row)
    with pytest.raises(UserError, match=message) as info:
        read_items(path, get_project(store, "p1"))
    assert "items.jsonl:2" in str(info.value)


def test_ids_repeated_within_an_import_are_refused(store: Store) -> None:
    row = {
        "external_id": "same",
        "prompt": [{"role": "user", "content": "x"}],
        "response_a": "a",
        "response_b": "b",
        "gold": None,
        "meta": {},
    }
    with pytest.raises(UserError, match="twice"):
        add_items(store, "p1", [row, row])


class _FakeModel:
    name = "fake"

    def generate(self, convs, config, progress=False):  # type: ignore[no-untyped-def]
        return [f"reply seed {config.seed} to {c[-1]['content']}" for c in convs]


def test_items_from_a_model_sample_two_replies_per_prompt() -> None:
    rows = items_from_model(_FakeModel(), ["Where is Vesh?"], "pairwise")
    assert rows[0]["response_a"] != rows[0]["response_b"]
    assert rows[0]["meta"] == {"model": "fake"}
    single = items_from_model(_FakeModel(), ["Where is Vesh?"], "rating")
    assert set(single[0]) == {"prompt", "response"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[" * 100_000, "nested more than 32 levels"),
        ('{"prompt": "p", "meta": ' + '{"m": ' * 33 + "1" + "}" * 34, "nested more than 32"),
        ('{"prompt": "p", "response_a": "a\\u0000"}', "NUL character"),
        ('{"prompt": "\\ud800", "response_a": "a"}', "unpaired surrogate"),
        ('{"prompt": "p", "meta": {"x": NaN}}', "NaN is not a number JSON allows"),
        ('{"prompt": "p", "meta": {"x": 1e999}}', "a number is too large"),
        ('{"prompt": "p", "gold": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
)
def test_lines_no_database_can_store_are_refused(
    store: Store, tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"prompt": "ok", "response_a": "a", "response_b": "b"}\n' + line + "\n")
    with pytest.raises(UserError, match=f"items.jsonl:2: .*{message}"):
        read_items(path, get_project(store, "p1"))


def test_unreadable_item_files_are_user_errors(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_bytes(b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(UserError, match="not UTF-8 text"):
        read_items(path, get_project(store, "p1"))
    with pytest.raises(UserError, match="no project named"):
        get_project(store, "p1\x00")
