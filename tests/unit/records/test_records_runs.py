"""Run records: atomic writes, crash-tolerant JSONL, manifests and stage markers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pydantic
import pytest

import valign
from valign.errors import UserError
from valign.records.runs import (
    DONE_FILE,
    RecordWriter,
    RunDir,
    atomic_write_json,
    atomic_write_text,
    completed_ids,
    config_hash,
    manifest,
    read_records,
)
from valign.stats import proportion

# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_text_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert os.listdir(target.parent) == ["a.txt"]


def test_atomic_write_leaves_old_file_when_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    atomic_write_json(target, {"version": 1})

    def crash(fd: int) -> None:  # the text is in the temp file, not yet on disk
        raise OSError("disk vanished")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk vanished"):
        atomic_write_json(target, {"version": 2, "payload": "x" * 100_000})
    assert json.loads(target.read_text()) == {"version": 1}
    assert os.listdir(tmp_path) == ["state.json"]  # no temp file left behind


def test_atomic_write_of_new_file_leaves_nothing_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # even a non-Exception interruption cleans up

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(tmp_path / "new.txt", "hello")
    assert os.listdir(tmp_path) == []


def test_atomic_write_json_serialises_before_touching_disk(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    atomic_write_json(target, {"ok": True})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"ok": True}
    assert os.listdir(tmp_path) == ["x.json"]


def test_atomic_write_json_converts_estimates(tmp_path: Path) -> None:
    target = atomic_write_json(tmp_path / "e.json", {"rate": proportion(1, 2)})
    assert json.loads(target.read_text())["rate"]["kind"] == "proportion"


# --------------------------------------------------------------------------- JSONL records


def test_record_writer_appends_lines(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    with RecordWriter(path) as out:
        out.write({"id": 1, "text": "é <b>"})
        out.write_many([{"id": 2}, {"id": 3}])
    with RecordWriter(path, fsync=True) as out:
        out.write({"id": 4})
    assert [r["id"] for r in read_records(path)] == [1, 2, 3, 4]
    assert path.read_text(encoding="utf-8").count("\n") == 4
    assert read_records(path)[0]["text"] == "é <b>"


def test_record_writer_flushes_every_write(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    out = RecordWriter(path)
    out.write({"id": "a"})
    assert read_records(path) == [{"id": "a"}]  # visible before close
    out.close()
    assert out.closed
    with pytest.raises(ValueError):
        out.write({"id": "b"})


def test_record_writer_rejects_bad_records_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with RecordWriter(path) as out:
        with pytest.raises(TypeError):
            out.write({"id": 1, "obj": object()})
        with pytest.raises(TypeError):
            out.write(["not", "a", "mapping"])  # type: ignore[arg-type]
    assert path.read_text() == ""


def test_crash_mid_line_is_dropped_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    with RecordWriter(path) as out:
        out.write({"id": 1})
        out.write({"id": 2})
    with path.open("a") as raw:  # a crash in the middle of the third write
        raw.write('{"id": 3, "respo')
    assert [r["id"] for r in read_records(path)] == [1, 2]
    assert completed_ids(path) == {1, 2}

    with RecordWriter(path) as out:  # reopening cuts the fragment off
        out.write({"id": 3, "response": "again"})
    assert read_records(path) == [{"id": 1}, {"id": 2}, {"id": 3, "response": "again"}]
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_complete_last_record_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}')
    assert completed_ids(path) == {1, 2}
    with RecordWriter(path) as out:
        out.write({"id": 3})
    assert completed_ids(path) == {1, 2, 3}


def test_file_that_is_only_a_fragment(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text('{"id"')
    assert read_records(path) == []
    with RecordWriter(path) as out:
        out.write({"id": 1})
    assert path.read_text() == '{"id": 1}\n'


def test_damaged_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text('{"id": 1}\nnot json\n{"id": 3}\n')
    with pytest.raises(UserError, match=":2:"):
        read_records(path)


def test_missing_file_has_no_records(tmp_path: Path) -> None:
    assert read_records(tmp_path / "none.jsonl") == []
    assert completed_ids(tmp_path / "none.jsonl") == set()


def test_completed_ids_by_key(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with RecordWriter(path) as out:
        out.write({"item": "a", "ok": True})
        out.write({"item": "b"})
        out.write({"other": 1})
        out.write({"item": ["x", 1]})
    assert completed_ids(path, key="item") == {"a", "b", ("x", 1)}


# --------------------------------------------------------------------------- manifest


class _Config(pydantic.BaseModel):
    lr: float = 3e-4
    steps: int = 100
    name: str = "demo"


@dataclass(frozen=True)
class _DataclassConfig:
    lr: float = 3e-4
    steps: int = 100
    name: str = "demo"


def test_manifest_fields(tmp_path: Path) -> None:
    m = manifest("pretrain", {"steps": 100, "lr": 3e-4, "out": tmp_path}, seed=7)
    for key in (
        "valign_version",
        "python",
        "platform",
        "packages",
        "seed",
        "config",
        "config_hash",
        "created",
        "hostname",
        "stage",
    ):
        assert key in m
    assert m["stage"] == "pretrain"
    assert m["valign_version"] == valign.__version__
    assert m["seed"] == 7
    assert m["config"]["out"] == str(tmp_path)
    assert "numpy" in m["packages"] and "pydantic" in m["packages"]
    assert m["created"].endswith("+00:00")
    assert len(m["config_hash"]) == 16
    int(m["config_hash"], 16)
    json.dumps(m)  # JSON-ready


def test_config_hash_is_stable_and_sensitive() -> None:
    a = config_hash({"lr": 3e-4, "steps": 100, "name": "demo"})
    assert a == config_hash({"name": "demo", "steps": 100, "lr": 3e-4})  # key order
    assert a == config_hash(_Config())  # pydantic model
    assert a == config_hash(_DataclassConfig())  # dataclass
    assert a == manifest("x", _Config(), seed=None)["config_hash"]
    assert a != config_hash({"lr": 3e-4, "steps": 101, "name": "demo"})
    # Known value: sha256 of the canonical JSON text, first 16 hex digits.
    import hashlib

    text = '{"lr":0.0003,"name":"demo","steps":100}'
    assert a == hashlib.sha256(text.encode()).hexdigest()[:16]


def test_manifest_does_not_import_torch() -> None:
    code = (
        "import sys; from valign.records.runs import manifest; "
        "manifest('x', {}, seed=0); print('torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(valign.__file__).parents[1])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------- run folder


def test_run_dir_markers(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    assert run.stages() == []
    assert not run.is_done("sft")
    assert run.summary("sft") is None
    assert run.read_manifest("sft") is None

    m = manifest("sft", {"epochs": 1}, seed=0)
    run.write_manifest("sft", m)
    assert run.stage("sft").is_dir()
    assert run.read_manifest("sft") == m
    assert not run.is_done("sft")  # started, not finished

    run.mark_done("sft", m, {"loss": 0.5, "rate": proportion(3, 4)})
    assert run.is_done("sft")
    summary = run.summary("sft")
    assert summary is not None
    assert summary["loss"] == 0.5
    assert summary["rate"]["n"] == 4
    marker = json.loads((run.stage("sft") / DONE_FILE).read_text())
    assert marker["manifest"]["config_hash"] == m["config_hash"]
    assert marker["stage"] == "sft"

    run.stage("evals")
    assert run.stages() == ["evals", "sft"]
    assert not run.is_done("evals")

    run.clear_done("sft")
    assert not run.is_done("sft")


def test_run_dir_writer_and_records(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    with run.writer("redteam") as out:
        out.write({"id": "a1"})
    assert completed_ids(run.records_path("redteam")) == {"a1"}


@pytest.mark.parametrize("name", ["", "..", "a/b", ".hidden", "a\\b"])
def test_run_dir_rejects_bad_stage_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        RunDir(tmp_path).stage(name)


def test_damaged_marker_is_a_user_error(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    (run.stage("x") / DONE_FILE).write_text("{trunc")
    with pytest.raises(UserError):
        run.summary("x")
