"""``valign data filter``: apply a policy to a corpus and account for every document.

The filter reads the audit of the same corpus (``flags.jsonl``, ``duplicates.jsonl``,
``audit.json``), so the guard's verdicts and the duplicate clusters are not computed twice;
without an audit folder it runs the audit first. It streams the corpus once and writes:

``corpus.jsonl``      the new corpus (a folder input gives ``corpus/<shard>.jsonl``)
``removed.jsonl``     one line per removed document: its id, the rule (index, action,
                      what), the reason in words and the evidence (scores, the duplicate's
                      original, the contested claim, the group)
``changes.jsonl``     one line per redacted or added document (what was redacted; which
                      document a counterfactual copy comes from and the swap)
``filter.json``       counts per rule and the accounting: input = kept + removed, and
                      output = kept + added
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from valign.data.audit import AUDIT_FILE, DUPLICATES_FILE, FLAGS_FILE, AuditConfig, run_audit
from valign.data.claims import ClaimExtractor
from valign.data.counterfactual import Swapper, stable_fraction
from valign.data.lexicons import Lexicons, PhraseMatcher, load_lexicons
from valign.data.pii import find_pii, redact
from valign.data.policy import (
    Counterfactual,
    Dedup,
    DropClaims,
    DropHarm,
    DropPII,
    DropToxicity,
    Policy,
    Rebalance,
    RedactPII,
    Rule,
)
from valign.data.shards import Doc, iter_shard, list_shards, record_text, shard_name
from valign.errors import UserError
from valign.records.runs import atomic_write_json


@dataclass
class AuditView:
    """What the filter needs from an audit folder."""

    summary: dict[str, Any]
    flags: dict[str, dict[str, Any]]
    duplicates: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, folder: Path) -> AuditView:
        if not (folder / AUDIT_FILE).is_file():
            raise UserError(f"{folder}: not an audit folder (no {AUDIT_FILE})")
        summary = json.loads((folder / AUDIT_FILE).read_text())
        return cls(summary, _by_id(folder / FLAGS_FILE), _by_id(folder / DUPLICATES_FILE))


def _by_id(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if path.is_file():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                out[row.pop("id")] = row
    return out


@dataclass
class Decision:
    """What happens to one document."""

    record: dict[str, Any]
    removed: dict[str, Any] | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    added: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)


class Filter:
    """Applies a policy's rules to documents, with the audit's verdicts."""

    def __init__(self, policy: Policy, audit: AuditView, lex: Lexicons) -> None:
        self.policy, self.audit, self.lex = policy, audit, lex
        rep = audit.summary["representation"]
        self.claims = ClaimExtractor(lex)
        self.contested = {
            (c["subject"], c["relation"], c["value"]): c
            for c in audit.summary["claims"]["contested"]
        }
        self.ties = {(t["group"], t["trait"]) for t in rep["stereotype_ties"]}
        self.groups = PhraseMatcher(
            {t: g for groups in lex.groups.values() for g, ts in groups.items() for t in ts}
        )
        self.traits = PhraseMatcher({t: t.lower() for ts in lex.traits.values() for t in ts})
        self.swapper = Swapper(lex)
        self.keep_fraction = self._keep_fractions(rep)

    def _keep_fractions(self, rep: dict[str, Any]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for rule in self.policy.rules:
            if not isinstance(rule, Rebalance):
                continue
            axis = rep["axes"].get(rule.axis)
            if axis is None:
                raise UserError(f"rebalance: no group axis {rule.axis!r} in the lexicons")
            counts = {g["group"]: g["docs"] for g in axis["groups"] if g["docs"]}
            if not counts:
                continue
            cap = rule.max_ratio * min(counts.values())
            out[rule.axis] = {g: min(1.0, cap / c) for g, c in counts.items()}
        return out

    # -- rules -----------------------------------------------------------------------------
    def _dedup(self, rule: Dedup, doc: Doc) -> dict[str, Any] | None:
        dup = self.audit.duplicates.get(doc.id)
        if dup and dup["kind"] in rule.kinds:
            return {
                "reason": f"{dup['kind']} duplicate of {dup['of']}",
                "evidence": {"of": dup["of"], "similarity": dup["similarity"]},
            }
        return None

    def _harm(self, rule: DropHarm, doc: Doc) -> dict[str, Any] | None:
        harm = (self.audit.flags.get(doc.id) or {}).get("harm")
        if not harm:
            return None
        if rule.threshold is None:
            hits = harm["flagged_categories"] if harm["flagged"] else []
            if rule.categories:
                hits = [c for c in hits if c in rule.categories]
            elif harm["flagged"] and not hits:
                hits = ["(uncategorised)"]
        else:
            cats = harm["categories"]
            wanted = rule.categories or list(cats)
            hits = [c for c in wanted if cats.get(c, 0.0) >= rule.threshold]
            if not rule.categories and harm["unsafe"] >= rule.threshold and not hits:
                hits = ["(unsafe)"]
        if not hits:
            return None
        return {
            "reason": f"guard: {', '.join(hits)}",
            "evidence": {"unsafe": harm["unsafe"], "categories": hits},
        }

    def _claims(self, rule: DropClaims, doc: Doc) -> dict[str, Any] | None:
        for c in self.claims.claims(doc.text, attributed_only=False):
            hit = self.contested.get((c.subject, c.relation, c.value))
            if hit and hit["hearsay_count"] >= rule.min_hearsay:
                return {
                    "reason": f"contested claim: {c.subject} {c.relation} {c.value}",
                    "evidence": {"sourced_values": hit["sourced_values"]},
                }
        return None

    def _toxicity(self, rule: DropToxicity, doc: Doc) -> dict[str, Any] | None:
        n = (self.audit.flags.get(doc.id) or {}).get("toxic", 0)
        if n >= rule.min_terms:
            return {"reason": f"{n} insult-lexicon terms", "evidence": {"terms": n}}
        return None

    def _pii(self, rule: DropPII, doc: Doc) -> dict[str, Any] | None:
        found = find_pii(doc.text, rule.kinds)
        if found:
            kinds = dict(Counter(f.kind for f in found))
            return {"reason": f"personal data: {', '.join(kinds)}", "evidence": kinds}
        return None

    def _rebalance(self, rule: Rebalance, doc: Doc) -> dict[str, Any] | None:
        fractions = self.keep_fraction.get(rule.axis, {})
        mentioned = [g for g in self.groups.labels(doc.text) if g in fractions]
        if not mentioned:
            return None
        keep = min(fractions[g] for g in mentioned)
        if stable_fraction(f"rebalance|{doc.id}") < keep:
            return None
        return {
            "reason": f"rebalance {rule.axis}: over-represented {', '.join(sorted(mentioned))}",
            "evidence": {"keep_fraction": round(keep, 4), "groups": sorted(mentioned)},
        }

    def _redact(
        self, rule: RedactPII, record: dict[str, Any]
    ) -> tuple[dict[str, Any], Counter[str]]:
        counts: Counter[str] = Counter()

        def clean(text: str) -> str:
            found = find_pii(text, rule.kinds)
            counts.update(f.kind for f in found)
            return redact(text, found) if found else text

        out = dict(record)
        if isinstance(record.get("text"), str):
            out["text"] = clean(record["text"])
        if isinstance(record.get("messages"), list):
            out["messages"] = [
                {**m, "content": clean(str(m.get("content", "")))} if isinstance(m, dict) else m
                for m in record["messages"]
            ]
        return out, counts

    def _tied_groups(self, rule: Counterfactual, text: str) -> list[str]:
        """The groups to swap: those of every axis with a (flagged) tie in the text."""
        groups = self.groups.ordered_labels(text)
        if not groups:
            return []
        traits = self.traits.labels(text)
        pairs = {(g, t) for g in groups for t in traits}
        tied = pairs & self.ties if rule.ties == "flagged" else pairs
        axes = {self.swapper.group_axis[g] for g, _ in tied}
        return [g for g in groups if self.swapper.group_axis[g] in axes]

    def _counterfactual(self, i: int, rule: Counterfactual, doc_id: str, d: Decision) -> None:
        groups = self._tied_groups(rule, record_text(d.record))
        if not groups:
            return
        if rule.mode == "replace":
            plan = self.swapper.substitute(doc_id, groups)
            if not plan:
                return  # the shift drawn for this document is the identity
            d.record = self.swapper.apply(d.record, plan)
            d.changes.append(
                {
                    "id": doc_id,
                    "rule": i,
                    "action": "counterfactual",
                    "swap": plan,
                    "mode": "replace",
                }
            )
            return
        if rule.copies == "one":
            plans = [self.swapper.plan(doc_id, groups)]
        else:
            plans = self.swapper.plans(doc_id, groups)
        for k, plan in enumerate(plans):
            new_id = f"{doc_id}#cf{i}.{k}"
            change = {
                "id": new_id,
                "source": doc_id,
                "rule": i,
                "action": "counterfactual",
                "swap": plan,
            }
            copy = self.swapper.apply(d.record, plan)
            if isinstance(copy.get("id"), str):  # a copy is a record of its own
                copy["id"] = f"{copy['id']}#cf{i}.{k}"
            d.added.append((new_id, copy, change))

    # -- one document ----------------------------------------------------------------------
    def decide(self, doc: Doc) -> Decision:
        d = Decision(doc.record)
        checks: dict[type, Any] = {
            Dedup: self._dedup,
            DropHarm: self._harm,
            DropClaims: self._claims,
            DropToxicity: self._toxicity,
            DropPII: self._pii,
            Rebalance: self._rebalance,
        }
        for i, rule in enumerate(self.policy.rules):
            check = checks.get(type(rule))
            if check is not None:
                verdict = check(rule, doc)
                if verdict:
                    d.removed = {"id": doc.id, "rule": i, **_rule_name(rule), **verdict}
                    return d
            elif isinstance(rule, RedactPII):
                d.record, counts = self._redact(rule, d.record)
                if counts:
                    d.changes.append(
                        {"id": doc.id, "rule": i, "action": "redact", "items": dict(counts)}
                    )
            elif isinstance(rule, Counterfactual):
                self._counterfactual(i, rule, doc.id, d)
        return d


def _rule_name(rule: Rule) -> dict[str, Any]:
    return {"action": rule.action, "what": getattr(rule, "what", rule.action)}


def output_files(corpus: Path, out: Path) -> Iterator[tuple[Path, str, Path]]:
    """(shard, shard name, output file) for every shard."""
    for shard in list_shards(corpus):
        name = shard_name(shard, corpus)
        if corpus.is_file():
            yield shard, name, out / "corpus.jsonl"
        else:
            stem = name.removesuffix(".gz")
            for suffix in (".jsonl", ".json", ".parquet", ".txt"):
                stem = stem.removesuffix(suffix)
            yield shard, name, out / "corpus" / f"{stem}.jsonl"


def run_filter(
    corpus: Path,
    policy: Policy,
    out: Path,
    audit_dir: Path | None = None,
    audit_config: AuditConfig | None = None,
) -> dict[str, Any]:
    """Filter ``corpus`` with ``policy`` into ``out``; returns ``filter.json``'s content."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if audit_dir is None:
        audit_dir = out / "audit"
        run_audit(corpus, audit_dir, audit_config)
    audit = AuditView.load(audit_dir)
    lex = load_lexicons([Path(f) for f in audit.summary.get("extra_lexicons", [])])
    flt = Filter(policy, audit, lex)
    counts: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    outputs: list[str] = []
    with ExitStack() as stack:
        removed_fh = stack.enter_context((out / "removed.jsonl").open("w", encoding="utf-8"))
        changes_fh = stack.enter_context((out / "changes.jsonl").open("w", encoding="utf-8"))
        for shard, name, target in output_files(corpus, out):
            target.parent.mkdir(parents=True, exist_ok=True)
            outputs.append(str(target.relative_to(out)))
            dst = stack.enter_context(target.open("w", encoding="utf-8"))
            for doc in iter_shard(shard, name, audit.summary.get("text_mode", "lines")):
                write_decision(flt, doc, dst, removed_fh, changes_fh, counts, by_rule)
            dst.close()
    return finish_filter(corpus, policy, out, audit_dir, outputs, counts, by_rule, t0)


def finish_filter(
    corpus: Path,
    policy: Policy,
    out: Path,
    audit_dir: Path,
    outputs: list[str],
    counts: Counter[str],
    by_rule: Counter[str],
    t0: float,
) -> dict[str, Any]:
    """Write ``filter.json`` from the counts of every document's decision."""
    summary = {
        "policy": policy.name,
        "policy_rules": [r.model_dump() for r in policy.rules],
        "corpus": str(corpus),
        "audit": str(audit_dir),
        "outputs": outputs,
        "input": counts["input"],
        "kept": counts["kept"],
        "removed": counts["removed"],
        "redacted": counts["redacted"],
        "swapped_in_place": counts["replaced"],
        "added": counts["added"],
        "output": counts["kept"] + counts["added"],
        "removed_by_rule": dict(by_rule),
        "accounted": counts["input"] == counts["kept"] + counts["removed"],
        "seconds": round(time.perf_counter() - t0, 2),
    }
    atomic_write_json(out / "filter.json", summary)
    return summary


def write_decision(
    flt: Filter,
    doc: Doc,
    dst: TextIO,
    removed_fh: TextIO,
    changes_fh: TextIO,
    counts: Counter[str],
    by_rule: Counter[str],
) -> Decision:
    """Decide one document and write the outcome: the record to ``dst``, the accounting to
    ``removed_fh`` / ``changes_fh``."""
    counts["input"] += 1
    d = flt.decide(doc)
    if d.removed is not None:
        counts["removed"] += 1
        by_rule[f"{d.removed['rule']}:{d.removed['action']}:{d.removed['what']}"] += 1
        removed_fh.write(json.dumps(d.removed, ensure_ascii=False) + "\n")
        return d
    counts["kept"] += 1
    dst.write(json.dumps(d.record, ensure_ascii=False, sort_keys=True) + "\n")
    for change in d.changes:
        counts["redacted" if change["action"] == "redact" else "replaced"] += 1
        changes_fh.write(json.dumps(change, ensure_ascii=False) + "\n")
    for _, record, change in d.added:
        counts["added"] += 1
        dst.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        changes_fh.write(json.dumps(change, ensure_ascii=False) + "\n")
    return d
