"""The data operators on datatrove (the ``datatrove`` extra): two local tasks give the same
files as valign's own single-process audit and filter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip(
    "datatrove", reason="the datatrove extra is not installed: pip install 'valign[datatrove]'"
)

from valign.data.audit import AuditConfig, run_audit
from valign.data.engine import run_audit_datatrove, run_filter_datatrove
from valign.data.filter import run_filter
from valign.data.policy import load_policy, resolve_policy
from valign.errors import UserError

RULES = """
deny:
  - pattern: 'rude'
    category: hate_harassment
"""
MEASURES = ("size", "length", "languages", "pii", "harm", "toxicity", "duplicates")
MEASURES += ("representation", "claims", "samples")


def _cfg(tmp_path: Path) -> AuditConfig:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    return AuditConfig(guard=str(rules), workers=1, min_count=10, pmi_min=2.0, piece_mb=0.001)


@pytest.mark.slow
@pytest.mark.parametrize("corpus_name", ["corpus_file", "corpus_folder"])
def test_audit_and_filter_on_two_tasks_equal_one_process(
    corpus_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    corpus: Path = request.getfixturevalue(corpus_name)
    cfg = _cfg(tmp_path)
    local = run_audit(corpus, tmp_path / "local", cfg)
    engine = run_audit_datatrove(corpus, tmp_path / "engine", cfg, tasks=2, workers=2)
    assert local["corpus"]["pieces"] >= 4  # both tasks had pieces to scan
    for key in MEASURES:
        assert engine[key] == local[key], key
    assert local["duplicates"]["exact"] > 0 and local["pii"]["documents"] > 0
    for name in ("duplicates.jsonl", "flags.jsonl"):
        assert (tmp_path / "engine" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert (tmp_path / "engine" / "datatrove" / "stats.json").is_file()  # datatrove ran it

    policy = load_policy(resolve_policy("default"))
    kept = run_filter(corpus, policy, tmp_path / "kept-local", tmp_path / "local")
    kept_engine = run_filter_datatrove(
        corpus, policy, tmp_path / "local", tmp_path / "kept-engine", piece_mb=0.001
    )
    for key in ("input", "kept", "removed", "redacted", "added", "output", "removed_by_rule"):
        assert kept_engine[key] == kept[key], key
    assert kept["removed"] > 0 and kept["accounted"] and kept_engine["accounted"]
    assert kept_engine["outputs"] == kept["outputs"]
    for name in ("removed.jsonl", "changes.jsonl", *kept["outputs"]):
        a = (tmp_path / "kept-engine" / name).read_bytes()
        assert a == (tmp_path / "kept-local" / name).read_bytes(), name
    removed = [json.loads(x)["id"] for x in (tmp_path / "kept-engine" / "removed.jsonl").open()]
    assert len(removed) == kept["removed"]


def test_bad_settings_are_clear_errors(corpus_file: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="tasks and workers"):
        run_audit_datatrove(corpus_file, tmp_path / "a", AuditConfig(guard=None), tasks=0)
    policy = load_policy(resolve_policy("default"))
    with pytest.raises(UserError, match="not an audit folder"):
        run_filter_datatrove(corpus_file, policy, tmp_path / "nowhere", tmp_path / "b")


def test_commands_run_on_datatrove(corpus_file: Path, tmp_path: Path) -> None:
    from valign.cli import main

    audit, new = tmp_path / "audit", tmp_path / "new"
    argv = ["data", "audit", str(corpus_file), "--out", str(audit), "--guard", "none"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--workers", "2", "--engine", "datatrove"])
    assert exc.value.code in (0, None)
    assert json.loads((audit / "audit.json").read_text())["size"]["documents"] == 140
    argv = ["data", "filter", str(corpus_file), "--policy", "default", "--out", str(new)]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--audit", str(audit), "--engine", "datatrove", "--tasks", "2"])
    assert exc.value.code in (0, None)
    assert json.loads((new / "filter.json").read_text())["accounted"]
