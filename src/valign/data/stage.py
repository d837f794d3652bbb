"""The data audit as a stage of the lifecycle (``valign demo``, opt-in: ``data_audit: true``).

It audits the run's pretraining corpus into ``<run>/data_audit/`` (audit files and the
datasheet) and contributes a report section: size and duplicates, personal data, harmful
content by category, stereotype ties and contested claims.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from valign.data.audit import AuditConfig, run_audit
from valign.data.datasheet import harm_plots
from valign.report import RunDir
from valign.report.sections import section, table

#: The stage's audit settings (small pieces: the microworld corpus is a single 8 MB file).
STAGE_CONFIG = AuditConfig(piece_mb=2)


def data_audit_stage(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    corpus = run.stage_path("world") / "corpus.jsonl"
    a = run_audit(corpus, run.stage("data_audit"), STAGE_CONFIG)
    size, dup, harm = a["size"], a["duplicates"], a["harm"]
    ties = a["representation"]["stereotype_ties"]
    claims = a["claims"]["contested"]
    rows = [
        ["documents", size["documents"]],
        ["exact duplicates", dup["exact"]],
        ["near duplicates", dup["near"]],
        ["documents with personal data", a["pii"]["documents"]],
        ["unsafe documents (guard)", harm["flagged"]],
        ["stereotype ties", len(ties)],
        ["contested claims", len(claims)],
    ]
    a["report"] = section(
        "Training data audit",
        order=15,
        text="The pretraining corpus, audited: duplicates, personal data, harmful content per "
        "taxonomy category (the guard), group-trait ties and contested claims. The full "
        "datasheet is `data_audit/datasheet.html`.",
        tables=[
            table("Audit", ["measure", "value"], rows),
            table(
                "Stereotype ties",
                ["group", "trait", "documents", "PMI (bits)"],
                [[t["group"], t["trait"], t["docs"], t["pmi"]] for t in ties],
            ),
        ],
        plots=harm_plots(harm),
    )
    return a
