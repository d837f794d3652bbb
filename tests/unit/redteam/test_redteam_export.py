from __future__ import annotations

from pathlib import Path

from redteam_testkit import ScriptedTarget

from valign.records.comparisons import load_comparisons
from valign.records.runs import read_records
from valign.redteam.campaign import FINDINGS, CampaignConfig, run_campaign
from valign.redteam.export import export_pairs
from valign.redteam.scoring import Scorer


def test_successful_attacks_become_valid_preference_pairs(tmp_path: Path, scorer: Scorer) -> None:
    cfg = CampaignConfig(
        model="s", attacks=("roleplay", "rot13"), per_intent=1, controls=0, detectors=("grader",)
    )
    run_campaign(cfg, tmp_path, target=ScriptedTarget(), scorer=scorer)
    findings = read_records(tmp_path / FINDINGS)
    wins = [f for f in findings if f["success"]]
    assert 0 < len(wins) < len(findings)
    n = export_pairs(findings, tmp_path / "pairs.jsonl")
    pairs = load_comparisons(tmp_path / "pairs.jsonl")  # the one comparison format validates
    assert n == len(pairs) == len(wins)
    for pair, f in zip(pairs, wins, strict=True):
        assert pair.source == "redteam" and pair.kind == "jailbreak"
        assert pair.chosen == f["objective"]["safe_reply"] and pair.rejected == f["response"]
        assert (pair.chosen_harmful, pair.rejected_harmful) == (False, True)
        assert pair.prompt[-1]["content"] == f["prompt"][-1]["content"]
        assert pair.category == f["category"] and pair.meta["attack"] == f["attack"]
