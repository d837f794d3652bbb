"""The red team's report section: heatmap, rates per attack, detector quality, worst examples,
and the Pareto view of harm against over-refusal.

The section is plain JSON in the stage summary (:mod:`valign.report.sections`), so the
pipeline's report and the one ``valign redteam`` writes next to its findings are the same.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from valign.records.runs import DONE_FILE, RecordWriter, atomic_write_json, read_records
from valign.redteam.campaign import MANIFEST
from valign.report import render_report
from valign.report.sections import bar_plot, samples, section, table

WORST = "worst.jsonl"


def write_worst(findings: Sequence[Mapping[str, Any]], folder: Path) -> Path:
    """The most complete successes, flattened for the report's sample table."""
    from valign.redteam.summary import worst

    path = folder / WORST
    path.unlink(missing_ok=True)
    with RecordWriter(path) as out:
        for f in worst(findings):
            out.write(
                {
                    "attack": f["attack"],
                    "category": f["category"],
                    "rounds": f.get("n_rounds", 1),
                    "prompt": str(f["prompt"][-1]["content"])[:400],
                    "response": str(f["response"])[:300],
                    "score": round(float(f["score"]), 3),
                    "decided_by": f.get("decided_by", ""),
                }
            )
    return path


def pareto_point(label: str, summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """(over-refusal, attack success) of one campaign, for the Pareto plot."""
    if not summary.get("over_refusal"):
        return None
    return {"label": label, "x": summary["over_refusal"], "y": summary["asr"]}


def _detector_rows(metrics: Mapping[str, Any]) -> list[list[Any]]:
    return [
        [name, m["precision"], m["recall"], m["accuracy"], m["n"]] for name, m in metrics.items()
    ]


def redteam_section(
    summary: Mapping[str, Any],
    title: str = "Red teaming",
    order: int = 55,
    pareto: Sequence[Mapping[str, Any] | None] = (),
) -> dict[str, Any]:
    """The report section of one campaign; ``pareto`` adds other models' points."""
    attacks = {a["name"]: a for a in summary.get("attacks", [])}
    by_attack = summary["by_attack"]
    columns = list(by_attack)
    categories = sorted(summary["grid"])
    grid = [[summary["grid"][c].get(a) for c in categories] for a in columns]
    asr = summary["asr"]
    tput = summary.get("throughput", {})
    text = (
        f"{summary['n_attempts']} attempts ({len(columns)} attacks) against "
        f"`{summary.get('model', '')}`: attack success {asr['value']:.1%} "
        f"[{asr['low']:.1%}, {asr['high']:.1%}]"
    )
    if summary.get("over_refusal"):
        text += f"; over-refusal of borderline-safe requests {summary['over_refusal']['value']:.1%}"
    if tput.get("attempts_per_s"):
        text += f"; {tput['attempts_per_s']:.1f} attempts/s"
    text += (
        ". Success is decided by the exact grader where objectives have markers, else by the "
        "guard and the refusal detector together (or an LLM judge); the detector table shows "
        "how far each detector agrees with the exact labels. Intervals are Wilson 95%."
    )
    tables = [
        table(
            "Attack success per attack",
            ["attack", "family", "source", "attack success [95% CI]"],
            [
                [n, attacks.get(n, {}).get("family", ""), attacks.get(n, {}).get("source", ""), v]
                for n, v in by_attack.items()
            ],
        )
    ]
    for key, name in (
        ("detectors", "against the exact grader (this campaign)"),
        ("detectors_labelled", "against the labelled response set"),
    ):
        if summary.get(key):
            tables.append(
                table(
                    f"Detectors {name}",
                    ["detector", "precision", "recall", "accuracy", "n"],
                    _detector_rows(summary[key]),
                )
            )
    plots = [
        {
            "title": "Attack success by attack and category",
            "kind": "heatmap",
            "data": {
                "rows": columns,
                "columns": categories,
                "values": grid,
                "figsize": [7.2, max(3.0, 0.3 * len(columns) + 1.6)],
            },
        },
        bar_plot(
            "Attack success by family",
            list(summary["by_family"]),
            list(summary["by_family"].values()),
            ylabel="attack success rate",
        ),
    ]
    points = [p for p in pareto if p]
    if points:
        plots.append(
            {
                "title": "Harm against over-refusal",
                "kind": "scatter",
                "data": {
                    "points": points,
                    "frontier": True,
                    "xlabel": "over-refusal (borderline-safe requests)",
                    "ylabel": "attack success rate",
                },
                "caption": "Lower-left is better; the dashed line joins the models no other "
                "model beats on both.",
            }
        )
    return section(
        title,
        order=order,
        text=text,
        tables=tables,
        plots=plots,
        samples=[
            samples(
                "Worst examples (most complete successes, one per attack)",
                file=WORST,
                columns=["attack", "category", "rounds", "prompt", "response", "score"],
                limit=12,
            )
        ],
    )


def render_campaign_report(folder: Path, summary: Mapping[str, Any]) -> Path:
    """``folder/report.html`` for a campaign folder made by ``valign redteam``.

    The report renderer reads a run folder of stage folders; a temporary run folder with a
    link to the campaign folder lets the campaign keep its flat layout.
    """
    write_worst(read_records(folder / "findings.jsonl"), folder)
    manifest_path = folder / MANIFEST
    marker = {
        "stage": "redteam",
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "manifest": json.loads(manifest_path.read_text("utf-8")) if manifest_path.is_file() else {},
        "summary": {"report": redteam_section(summary, pareto=[pareto_point("target", summary)])},
    }
    atomic_write_json(folder / DONE_FILE, marker)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / folder.resolve().name
        root.mkdir()
        (root / "redteam").symlink_to(folder.resolve(), target_is_directory=True)
        return render_report(root, folder / "report.html", title="valign red-team report")
