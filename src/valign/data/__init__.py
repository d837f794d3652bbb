"""valign.data: audit, document, screen and rebuild training corpora.

    valign data audit CORPUS --out DIR      # audit.json, flags, duplicates, datasheet.md/.html
    valign data filter CORPUS --policy P --audit DIR --out NEW
    valign data build --out SETS [--redteam F] [--rated F]

See ``docs/data.md``. The pieces, one idea per module: :mod:`~valign.data.shards`
(streaming reads), :mod:`~valign.data.pii`, :mod:`~valign.data.minhash` and
:mod:`~valign.data.dedup` (over the sorted runs of :mod:`~valign.data.runs`),
:mod:`~valign.data.language`, :mod:`~valign.data.representation`,
:mod:`~valign.data.claims`, :mod:`~valign.data.harm` (the guard), :mod:`~valign.data.scan`
and :mod:`~valign.data.audit` (the multi-process audit), :mod:`~valign.data.datasheet`,
:mod:`~valign.data.policy` and :mod:`~valign.data.filter`,
:mod:`~valign.data.counterfactual`, :mod:`~valign.data.builders`,
:mod:`~valign.data.ablation` (pretraining on the filtered corpus), :mod:`~valign.data.engine`
(the operators as datatrove steps: the ``datatrove`` extra).
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.data.audit import AuditConfig, run_audit
    from valign.data.builders import build_sets
    from valign.data.filter import run_filter
    from valign.data.lexicons import Lexicons, load_lexicons
    from valign.data.pii import Finding, find_pii, redact
    from valign.data.policy import Policy, load_policy, resolve_policy

__all__ = [
    "AuditConfig",
    "Finding",
    "Lexicons",
    "Policy",
    "build_sets",
    "find_pii",
    "load_lexicons",
    "load_policy",
    "redact",
    "resolve_policy",
    "run_audit",
    "run_filter",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "audit": ["AuditConfig", "run_audit"],
            "builders": ["build_sets"],
            "filter": ["run_filter"],
            "lexicons": ["Lexicons", "load_lexicons"],
            "pii": ["Finding", "find_pii", "redact"],
            "policy": ["Policy", "load_policy", "resolve_policy"],
        },
    )
