from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redteam_testkit import ScriptedTarget

from valign.errors import UserError
from valign.records.runs import read_records
from valign.redteam.campaign import FINDINGS, SUMMARY, CampaignConfig, run_campaign
from valign.redteam.scoring import Scorer

CFG = CampaignConfig(
    model="scripted",
    attacks=("template", "encoding", "crescendo", "pair"),
    per_intent=1,
    variants=2,
    controls=1,
    chunk=40,
    detectors=("grader", "keyword"),
)


class Killed(Exception):
    pass


def _run(out: Path, target: Any, scorer: Scorer, on_record: Any = None) -> dict[str, Any]:
    return run_campaign(CFG, out, target=target, scorer=scorer, on_record=on_record)


def _strip(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_a_campaign_writes_one_finding_per_attempt_and_a_summary(
    tmp_path: Path, target: ScriptedTarget, scorer: Scorer
) -> None:
    summary = _run(tmp_path, target, scorer)
    findings = read_records(tmp_path / FINDINGS)
    assert len(findings) == summary["n_attempts"] == len({f["id"] for f in findings})
    assert (tmp_path / SUMMARY).is_file() and (tmp_path / "campaign.json").is_file()
    assert set(summary["by_family"]) == {"template", "encoding", "multi_turn", "iterative"}
    assert summary["over_refusal"]["n"] > 0
    roleplay = summary["by_attack"]["roleplay"]
    assert 0 < roleplay["value"] <= 1 and roleplay["low"] <= roleplay["value"] <= roleplay["high"]
    assert summary["detectors"]["keyword"]["n"] == len(findings)


def test_adaptive_attempts_run_rounds_until_success_or_the_limit(
    tmp_path: Path, scorer: Scorer
) -> None:
    target = ScriptedTarget(triggers=(), comply_after=2)  # complies on the second user turn
    _run(tmp_path, target, scorer)
    findings = {f["id"]: f for f in read_records(tmp_path / FINDINGS)}
    crescendo = [f for f in findings.values() if f["attack"] == "crescendo"]
    assert crescendo and all(f["n_rounds"] == 2 and f["success"] for f in crescendo)
    assert all(len(f["prompt"]) == 3 for f in crescendo)  # user, assistant, user
    pair = [f for f in findings.values() if f["attack"] == "pair"]
    assert all(f["n_rounds"] == CFG.max_rounds and not f["success"] for f in pair)


def test_resume_after_a_kill_loses_and_repeats_no_attempt(tmp_path: Path, scorer: Scorer) -> None:
    whole, first = tmp_path / "whole", ScriptedTarget()
    _run(whole, first, scorer)
    expected = _strip(read_records(whole / FINDINGS))

    killed = tmp_path / "killed"
    count = [0]

    def die_after_17(record: dict[str, Any]) -> None:
        count[0] += 1
        if count[0] == 17:
            raise Killed

    with pytest.raises(Killed):
        _run(killed, ScriptedTarget(), scorer, on_record=die_after_17)
    assert len(read_records(killed / FINDINGS)) == 17
    second = ScriptedTarget()
    _run(killed, second, scorer)
    got = _strip(read_records(killed / FINDINGS))
    assert len(got) == len(expected) == len({r["id"] for r in got})
    assert sorted(got, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])
    assert second.calls < first.calls  # the 17 finished attempts were not sent again

    third = ScriptedTarget()
    _run(killed, third, scorer)  # everything done: nothing is sent again
    assert third.calls == 0 and len(read_records(killed / FINDINGS)) == len(expected)


def test_a_folder_of_another_campaign_is_refused(
    tmp_path: Path, target: ScriptedTarget, scorer: Scorer
) -> None:
    _run(tmp_path, target, scorer)
    other = CFG.model_copy(update={"variants": 1})
    with pytest.raises(UserError, match="other settings"):
        run_campaign(other, tmp_path, target=target, scorer=scorer)
