"""The audit end to end on a small corpus: every measurable field, ids, pieces, datasheet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.data.audit import AuditConfig, run_audit
from valign.data.datasheet import SECTIONS

RULES = """
deny:
  - pattern: 'rude'
    category: hate_harassment
"""


def _cfg(tmp_path: Path, **kw: object) -> AuditConfig:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    return AuditConfig(guard=str(rules), workers=1, min_count=10, pmi_min=2.0, **kw)  # type: ignore[arg-type]


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_audit_measures_what_the_corpus_contains(corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    a = run_audit(corpus_file, out, _cfg(tmp_path))
    assert a["size"]["documents"] == 140 and a["size"]["dialogues"] == 20
    assert a["languages"]["en"] > 100
    assert a["pii"]["documents"] == 1
    assert a["pii"]["items_by_kind"] == {"email": 1, "phone": 1}  # the Luhn-failing code is not
    assert a["harm"]["flagged"] == 25 and a["harm"]["by_category"] == {"hate_harassment": 25}
    assert [(t["group"], t["trait"]) for t in a["representation"]["stereotype_ties"]] == [
        ("Osk", "rude")
    ]
    contested = a["claims"]["contested"]
    assert [(c["subject"], c["value"]) for c in contested] == [("a ripe delfen fruit", "orange")]
    # 24 repeats of the stereotype line, 2 of the fruit line, 1 notice: exact; 1 notice: near
    assert a["duplicates"]["exact"] == 24 + 2 + 1
    assert a["duplicates"]["near"] == 1
    dups = {d["id"]: d for d in _lines(out / "duplicates.jsonl")}
    near = [d for d in dups.values() if d["kind"] == "near"]
    assert [(d["id"], d["of"]) for d in near] == [("corpus.jsonl:59", "corpus.jsonl:57")]
    flags = {f["id"]: f for f in _lines(out / "flags.jsonl")}
    assert flags["corpus.jsonl:55"]["pii"] == {"email": 1, "phone": 1}
    assert flags["corpus.jsonl:0"]["harm"]["flagged_categories"] == ["hate_harassment"]
    assert not (out / "work").exists()


def test_datasheet_has_every_section_and_open_questions(corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    run_audit(corpus_file, out, _cfg(tmp_path))
    md = (out / "datasheet.md").read_text()
    for name in SECTIONS:
        assert f"## {name}" in md
    assert md.count("**To answer.**") >= 15  # what only the owner knows stays a question
    assert "140 documents" in md and "Osk ~ rude" in md and "email 1, phone 1" in md
    page = (out / "datasheet.html").read_text()
    assert page.count("<svg") >= 3 and "To answer" in page
    assert all(f"<h2>{name}" in page for name in ("Motivation", "Composition", "Maintenance"))


def test_pieces_and_shards_give_the_same_answers(
    corpus_file: Path, corpus_folder: Path, tmp_path: Path
) -> None:
    whole = run_audit(corpus_file, tmp_path / "whole", _cfg(tmp_path))
    cut = run_audit(corpus_file, tmp_path / "cut", _cfg(tmp_path, piece_mb=0.001))
    assert cut["corpus"]["pieces"] > 3
    for key in ("size", "pii", "harm", "duplicates", "representation", "claims", "languages"):
        assert cut[key] == whole[key], key
    assert (tmp_path / "cut" / "duplicates.jsonl").read_text() == (
        tmp_path / "whole" / "duplicates.jsonl"
    ).read_text()
    shards = run_audit(corpus_folder, tmp_path / "shards", _cfg(tmp_path))
    assert shards["size"]["documents"] == 140
    assert shards["duplicates"] == whole["duplicates"]
    ids = {f["id"].split(":")[0] for f in _lines(tmp_path / "shards" / "duplicates.jsonl")}
    assert ids <= {"a.jsonl", "b.parquet", "c.txt", "d.jsonl"}


def test_audit_without_guard_and_bad_settings(corpus_file: Path, tmp_path: Path) -> None:
    a = run_audit(corpus_file, tmp_path / "a", AuditConfig(guard=None, workers=1))
    assert a["harm"]["screened"] == 0
    assert "Not screened" in (tmp_path / "a" / "datasheet.md").read_text()
    from valign.errors import UserError

    with pytest.raises(UserError, match="unknown PII kinds"):
        run_audit(corpus_file, tmp_path / "b", AuditConfig(guard=None, pii_kinds=("dna",)))
    with pytest.raises(UserError, match="corpus not found"):
        run_audit(tmp_path / "missing", tmp_path / "c", AuditConfig(guard=None))


@pytest.mark.slow
def test_worker_processes_match_one_process(corpus_file: Path, tmp_path: Path) -> None:
    one = run_audit(corpus_file, tmp_path / "one", _cfg(tmp_path, piece_mb=0.002))
    two = run_audit(
        corpus_file,
        tmp_path / "two",
        _cfg(tmp_path, piece_mb=0.002).model_copy(update={"workers": 2}),
    )
    for key in ("size", "pii", "harm", "duplicates", "representation", "claims"):
        assert one[key] == two[key], key
