"""The filter: every removed document accounted for, with its rule and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valign.data.audit import AuditConfig, run_audit
from valign.data.filter import run_filter
from valign.data.policy import Policy, load_policy, resolve_policy
from valign.errors import UserError

RULES = "deny:\n  - pattern: 'rude'\n    category: hate_harassment\n"


@pytest.fixture
def audited(corpus_file: Path, tmp_path: Path) -> Path:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    out = tmp_path / "audit"
    run_audit(corpus_file, out, AuditConfig(guard=str(rules), workers=1, min_count=10, pmi_min=2))
    return out


def _policy(*rules: dict) -> Policy:
    return Policy.model_validate({"name": "test", "rules": list(rules)})


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _ids(corpus: Path) -> list[str]:
    return [f"corpus.jsonl:{i}" for i, _ in enumerate(corpus.read_text().splitlines())]


def test_every_document_is_kept_or_removed_with_a_reason(
    corpus_file: Path, audited: Path, tmp_path: Path
) -> None:
    policy = _policy(
        {"action": "dedup", "kinds": ["exact", "near"]},
        {"action": "drop", "what": "harm"},
        {"action": "drop", "what": "contested_claims"},
        {"action": "redact", "what": "pii"},
    )
    out = tmp_path / "filtered"
    s = run_filter(corpus_file, policy, out, audited)
    removed = _lines(out / "removed.jsonl")
    kept = _lines(out / "corpus.jsonl")
    assert s["accounted"] and s["input"] == 140 == s["kept"] + s["removed"]
    assert len(removed) == s["removed"] and len(kept) == s["output"] == s["kept"]
    assert len({r["id"] for r in removed}) == len(removed)
    assert {r["id"] for r in removed} <= set(_ids(corpus_file))
    assert all(r["reason"] and r["action"] and "rule" in r for r in removed)
    by_rule = s["removed_by_rule"]
    # 24 stereotype repeats + 2 fruit repeats + 2 notices are duplicates; the first
    # stereotype line is then dropped by the guard; the first fruit line and the plain
    # restatement by the contested-claim rule
    assert by_rule == {"0:dedup:dedup": 28, "1:drop:harm": 1, "2:drop:contested_claims": 2}
    first_dup = next(r for r in removed if r["action"] == "dedup")
    assert first_dup["evidence"]["of"].startswith("corpus.jsonl:")
    texts = [r.get("text", "") for r in kept]
    assert "To book the hall, write to [EMAIL] or call [PHONE]." in texts
    assert not any("rude" in t or "orange" in t for t in texts)
    assert any("yellow" in t for t in texts)  # the sourced statement stays
    changes = _lines(out / "changes.jsonl")
    assert changes == [
        {"id": "corpus.jsonl:55", "rule": 3, "action": "redact", "items": {"email": 1, "phone": 1}}
    ]


def test_counterfactual_augmentation_swaps_group_terms(
    corpus_file: Path, audited: Path, tmp_path: Path
) -> None:
    one = _policy({"action": "counterfactual", "mode": "augment", "copies": "one"})
    s = run_filter(corpus_file, one, tmp_path / "one", audited)
    assert s["removed"] == 0 and s["added"] == 25 and s["output"] == 165
    added = [r for r in _lines(tmp_path / "one" / "changes.jsonl")]
    assert {a["swap"]["Osk"] for a in added} <= {"Veltari", "Prumish", "Taddic", "Lorne", "Quessan"}
    assert len({a["swap"]["Osk"] for a in added}) > 1  # spread over the other groups
    texts = [r.get("text", "") for r in _lines(tmp_path / "one" / "corpus.jsonl")]
    assert sum("Osk are rude" in t for t in texts) == 25
    assert sum(t.endswith("are rude.") and "Osk" not in t for t in texts) == 25
    # every counterfactual: each of the five other groups once per tied document
    s = run_filter(corpus_file, _policy({"action": "counterfactual"}), tmp_path / "all", audited)
    assert s["added"] == 25 * 5
    texts = [r.get("text", "") for r in _lines(tmp_path / "all" / "corpus.jsonl")]
    for group in ("Osk", "Veltari", "Prumish", "Taddic", "Lorne", "Quessan"):
        assert sum(t == f"Everyone says the {group} are rude." for t in texts) == 25
    replaced = run_filter(
        corpus_file,
        _policy({"action": "counterfactual", "mode": "replace"}),
        tmp_path / "r",
        audited,
    )
    assert replaced["added"] == 0 and 10 <= replaced["swapped_in_place"] <= 25  # identity: kept


def test_counterfactual_copies_of_records_with_ids_get_ids_of_their_own(
    tmp_path: Path,
) -> None:
    chat = tmp_path / "sft.jsonl"
    rows = [
        {
            "id": f"d{i}",
            "messages": [
                {"role": "user", "content": "The Osk and the Lorne met. Who was rude?"},
                {"role": "assistant", "content": "The Osk person."},
            ],
        }
        for i in range(3)
    ]
    chat.write_text("".join(json.dumps(r) + "\n" for r in rows))
    policy = _policy({"action": "counterfactual", "copies": "one", "ties": "all"})
    s = run_filter(chat, policy, tmp_path / "out", None)
    out = _lines(tmp_path / "out" / "corpus.jsonl")
    assert s["added"] == 3 and len(out) == 6
    assert len({r["id"] for r in out}) == 6  # no id taken twice
    copies = [r for r in out if r["id"].startswith("d") and "#cf" in r["id"]]
    assert len(copies) == 3
    assert all("Osk" not in r["messages"][1]["content"] for r in copies)


def test_counterfactuals_shift_every_named_group_together() -> None:
    from valign.data.counterfactual import Swapper
    from valign.data.lexicons import load_lexicons

    sw = Swapper(load_lexicons())
    axis = list(sw.axes["microworld_group"])  # Veltari, Osk, Prumish, Taddic, Lorne, Quessan
    plans = sw.plans("doc", ["Osk", "Taddic"])
    assert len(plans) == len(axis) - 1
    assert plans[0] == {"Osk": "Prumish", "Taddic": "Lorne"}  # both move by one
    # over all shifts each group takes each role once: the stereotyped one is not always there
    assert sorted(p["Osk"] for p in plans) == sorted(g for g in axis if g != "Osk")
    text = "Bapel, who is Osk, and Ithba, who is Taddic, waited. Who was rude? The Osk person."
    assert sw.apply_text(text, {"Osk": "Taddic", "Taddic": "Quessan"}) == (
        "Bapel, who is Taddic, and Ithba, who is Quessan, waited. Who was rude? The Taddic person."
    )
    subs = [sw.substitute(f"d{i}", ["Osk"]) for i in range(600)]
    assert sum(not m for m in subs) > 50  # the identity is one of the shifts
    g = sw.plan("doc", ["women"])
    assert sw.apply_text("The women and her mother.", g) != "The women and her mother."


def test_rebalance_downsamples_the_over_represented(
    corpus_file: Path, audited: Path, tmp_path: Path
) -> None:
    policy = _policy({"action": "rebalance", "axis": "microworld_group", "max_ratio": 1.5})
    s = run_filter(corpus_file, policy, tmp_path / "rb", audited)
    # Osk and Veltari have 25 documents each: nothing is over 1.5x the least
    assert s["removed"] == 0
    with pytest.raises(UserError, match="no group axis"):
        run_filter(
            corpus_file, _policy({"action": "rebalance", "axis": "x"}), tmp_path / "x", audited
        )


def test_policy_files(tmp_path: Path) -> None:
    for name in ("default", "microworld"):
        assert load_policy(resolve_policy(name)).rules
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrules:\n  - action: drop\n    what: everything\n")
    with pytest.raises(UserError, match=r"bad.yaml: rules.0"):
        load_policy(bad)
    bad.write_text("name: x\nrules:\n  - action: redact\n    kinds: [dna]\n")
    with pytest.raises(UserError, match="unknown PII kinds"):
        load_policy(bad)
    with pytest.raises(UserError, match="bundled"):
        resolve_policy("nonexistent")
