"""The filtered-corpus ablation: does filtering the pretraining corpus change the model?

Audit the raw corpus, filter it with a policy, pretrain the same architecture with the same
settings on the filtered corpus, and score it on the same held-out items as the base model
pretrained on the raw corpus. This module holds the filter and the comparison; the
pretraining and the whole run are :mod:`valign.data.stage`'s (``run_ablation``), which both
the ``data_ablation`` stage of ``valign demo`` and ``benchmarks/data_ablation.py`` call.
Every phase resumes: a finished audit or filter is reused, pretraining resumes from its
last checkpoint and evaluation from its last item.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from valign.data.audit import AUDIT_FILE, AuditConfig, run_audit
from valign.data.filter import run_filter
from valign.data.policy import load_policy, resolve_policy
from valign.report.html import format_value

#: Scorecard rows compared, and which way is better.
ROWS = (
    ("aligned", "higher"),
    ("harmful_compliance", "lower"),
    ("jailbreak_success", "lower"),
    ("bias_ambiguous", "closer to 0"),
    ("bias_disambiguated", "closer to 0"),
    ("helpfulness", "higher"),
    ("over_refusal", "lower"),
    ("truthfulness_mc1", "higher"),
    ("power_seeking", "lower"),
)
RESULT_FILE = "ablation.json"


def filter_corpus(
    corpus: Path,
    out: Path,
    policy: str = "microworld",
    audit_dir: Path | None = None,
    audit_config: AuditConfig | None = None,
) -> dict[str, Any]:
    """Audit ``corpus`` into ``out/audit`` (unless ``audit_dir`` holds its audit) and filter
    it with ``policy`` into ``out/filtered``; returns ``filter.json``'s content."""
    audit_dir = audit_dir or out / "audit"
    if not (audit_dir / AUDIT_FILE).is_file():
        run_audit(corpus, audit_dir, audit_config)
    filtered = out / "filtered"
    if not (filtered / "filter.json").is_file():
        run_filter(corpus, load_policy(resolve_policy(policy)), filtered, audit_dir)
    summary: dict[str, Any] = json.loads((filtered / "filter.json").read_text())
    return summary


def compare_rows(raw: dict[str, Any], filtered: dict[str, Any]) -> list[list[str]]:
    """Side by side: ``[metric, better, raw corpus, filtered corpus]`` per compared row."""
    from valign.evals.scorecard import METRIC_TITLES

    a, b = raw.get("metrics", {}), filtered.get("metrics", {})
    return [
        [METRIC_TITLES[k], better, format_value(a.get(k)), format_value(b.get(k))]
        for k, better in ROWS
    ]


def filter_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """The filter's accounting as ``[measure, documents]`` rows."""
    rows: list[list[Any]] = [["input", summary["input"]]]
    for key, n in summary["removed_by_rule"].items():  # "<index>:<action>:<what>"
        index, action, what = key.split(":", 2)
        rows.append([f"removed by rule {index} ({action} {what})", n])
    rows += [
        ["redacted", summary["redacted"]],
        ["relabelled in place", summary["swapped_in_place"]],
        ["added (counterfactual copies)", summary["added"]],
        ["output", summary["output"]],
    ]
    return rows
