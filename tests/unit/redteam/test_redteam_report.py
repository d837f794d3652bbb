from __future__ import annotations

from pathlib import Path

from redteam_testkit import ScriptedTarget

from valign.redteam.campaign import CampaignConfig, run_campaign
from valign.redteam.report import redteam_section, render_campaign_report
from valign.redteam.scoring import Scorer
from valign.report import plot_svg


def test_the_report_has_a_heatmap_a_pareto_view_and_worst_examples(
    tmp_path: Path, scorer: Scorer
) -> None:
    cfg = CampaignConfig(
        model="s", attacks=("roleplay", "base64"), per_intent=1, detectors=("grader", "keyword")
    )
    summary = run_campaign(cfg, tmp_path, target=ScriptedTarget(), scorer=scorer)
    point = {"label": "base", "x": summary["over_refusal"], "y": summary["asr"]}
    spec = redteam_section(summary, pareto=[point, {**point, "label": "aligned"}])
    kinds = [p["kind"] for p in spec["plots"]]
    assert kinds == ["heatmap", "bar", "scatter"]
    for plot in spec["plots"]:
        assert plot_svg(plot).startswith("<svg")
    html = render_campaign_report(tmp_path, summary).read_text()
    assert "Attack success by attack and category" in html and "Worst examples" in html
    assert "Sure. First, &lt;STEP-1&gt;" in html
