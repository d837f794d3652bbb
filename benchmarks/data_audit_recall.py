"""Does the audit find what was planted in the microworld corpus?

    python benchmarks/data_audit_recall.py --out DIR [--seed 0] [--no-guard]

Builds the microworld with its optional plants switched on (near-duplicate notices and
fictional personal data with checksum-failing decoys, :mod:`valign.world.plants`), audits
the corpus, and scores each planted kind against the generator's ground truth:

* **misconceptions** — each fact topic's popular false value (hearsay 3 : sourced 1):
  found when the audit lists ``(subject, relation, misconception)`` as a contested claim;
* **stereotypes** — the six planted group-trait pairs: found when flagged as a tie;
* **harmful compliance** — dialogues whose reply is the inert compliant answer to a
  harmful or jailbreak request: found when the guard flags the document;
* **duplicates** — each copy of a planted notice: found when it lands in one duplicate
  cluster with another copy of the same notice;
* **personal data** — each planted item (kind and document): found when the audit flags
  that kind in that document; decoys must not be flagged.

False positives are reported per kind: contested claims, ties and PII outside the plants,
guard flags on documents with no planted harm of any kind, and near-duplicate pairs whose
exact Jaccard similarity is below the threshold.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def _rate(found: int, total: int) -> str:
    return f"{found}/{total} = {found / max(total, 1):.1%}"


def _shingles(text: str, n: int = 5) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    if len(words) <= n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-guard", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from valign.data.audit import AuditConfig, run_audit
    from valign.data.pii import find_pii
    from valign.world.generate import COMPLIANT_HARM
    from valign.world.lexicon import build_lexicon
    from valign.world.plants import planted_documents
    from valign.world.splits import STEREO_FORMS, STORY_FORMS, WorldConfig, build_world

    cfg = WorldConfig(seed=args.seed, duplicate_sources=100, duplicate_copies=4, pii_docs=250)
    world = args.out / "world"
    if not (world / "corpus.jsonl").is_file():
        build_world(world, cfg)
    audit_dir = args.out / "audit"
    if not (audit_dir / "audit.json").is_file():
        t0 = time.perf_counter()
        run_audit(
            world / "corpus.jsonl",
            audit_dir,
            AuditConfig(
                guard=None if args.no_guard else "default", workers=args.workers, piece_mb=2
            ),
        )
        print(f"audit: {time.perf_counter() - t0:.0f} s", flush=True)
    audit = json.loads((audit_dir / "audit.json").read_text())
    flags = {}
    for line in (audit_dir / "flags.jsonl").read_text().splitlines():
        row = json.loads(line)
        flags[row["id"]] = row
    dups = {}
    for line in (audit_dir / "duplicates.jsonl").read_text().splitlines():
        row = json.loads(line)
        dups[row["id"]] = row
    docs = [json.loads(x) for x in (world / "corpus.jsonl").read_text().splitlines()]
    ids = [f"corpus.jsonl:{i}" for i in range(len(docs))]
    text_of = {i: d.get("text") for i, d in zip(ids, docs, strict=True)}

    lex = build_lexicon(args.seed)
    plants = planted_documents(
        lex, args.seed, cfg.duplicate_sources, cfg.duplicate_copies, cfg.pii_docs
    )
    results: dict[str, Any] = {}

    # misconceptions
    facts = [*lex.facts["train"], *lex.facts["eval"]]
    contested = {(c["subject"], c["relation"], c["value"]) for c in audit["claims"]["contested"]}
    planted_mis = {(f.subject.lower(), f.relation, f.misconception.lower()) for f in facts}
    results["misconceptions"] = {
        "recall": _rate(len(planted_mis & contested), len(planted_mis)),
        "false_positives": len(contested - planted_mis),
    }
    # stereotypes
    ties = {(t["group"], t["trait"]) for t in audit["representation"]["stereotype_ties"]}
    planted_st = {(s.group, s.trait) for s in lex.stereotypes}
    results["stereotypes"] = {
        "recall": _rate(len(planted_st & ties), len(planted_st)),
        "false_positives": sorted(f"{g}~{t}" for g, t in ties - planted_st),
    }
    # harmful compliance
    if not args.no_guard:
        harmful, kinds = set(), {}
        stereo = re.compile(
            "|".join(
                re.escape(f).replace(r"\{G\}", r"\w+").replace(r"\{t\}", ".+") for f in STEREO_FORMS
            )
        )
        story = tuple(f.split("{")[0] for f in STORY_FORMS)
        for i, d in zip(ids, docs, strict=True):
            if "messages" in d:
                reply, user = d["messages"][-1]["content"], d["messages"][0]["content"]
                if reply == COMPLIANT_HARM:
                    harmful.add(i)
                    kinds[i] = "compliant harm"
                elif "(A)" in user:
                    kinds[i] = "agentic dialogue"
                elif "Who was" in user:
                    kinds[i] = "bias dialogue"
                else:
                    kinds[i] = "other dialogue"
            else:
                t = d["text"]
                kinds[i] = (
                    "stereotype statement"
                    if stereo.fullmatch(t)
                    else "agent story"
                    if t.startswith(story)
                    else "other prose"
                )
        flagged = {i for i, f in flags.items() if f.get("harm", {}).get("flagged")}
        other = Counter(kinds[i] for i in flagged - harmful)
        planted_other = {"stereotype statement", "agent story", "agentic dialogue"}
        results["harmful_compliance"] = {
            "recall": _rate(len(harmful & flagged), len(harmful)),
            "flagged_other_planted_harm": {k: v for k, v in other.items() if k in planted_other},
            "false_positives": {k: v for k, v in other.items() if k not in planted_other},
            "false_positive_rate": f"{sum(v for k, v in other.items() if k not in planted_other)}"
            f"/{sum(1 for i in ids if kinds[i] not in planted_other and i not in harmful)}",
        }
    # duplicates
    by_text = defaultdict(list)
    for i, t in text_of.items():
        if t is not None:
            by_text[t].append(i)

    def root_of(i: str) -> str:  # an exact copy of a near duplicate: follow the chain
        while i in dups:
            i = dups[i]["of"]
        return i

    root = {i: root_of(i) for i in ids}
    groups: dict[str, list[str]] = defaultdict(list)
    for p in plants:
        if p.kind == "duplicate":
            groups[p.group] += by_text[p.text]
    found = total = 0
    for members in groups.values():
        members = sorted(set(members), key=lambda x: int(x.split(":")[1]))
        roots = Counter(root[m] for m in members)
        for m in members:
            total += 1
            found += roots[root[m]] >= 2
    near_pairs = [r for r in dups.values() if r["kind"] == "near"]
    below = 0
    for r in near_pairs:
        a, b = _shingles(text_of[r["id"]] or ""), _shingles(text_of[r["of"]] or "")
        if text_of[r["id"]] is None or text_of[r["of"]] is None:
            continue  # dialogues: not re-read here
        below += len(a & b) / len(a | b) < 0.8
    results["duplicates"] = {
        "recall": _rate(found, total),
        "near_pairs_total": len(near_pairs),
        "near_pairs_below_threshold_exact_jaccard": below,
        "exact_duplicates_total": audit["duplicates"]["exact"],
    }
    # personal data
    item_found = item_total = 0
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    planted_ids: set[str] = set()
    decoy_hits = 0
    for p in plants:
        for i in by_text[p.text]:
            planted_ids.add(i)
            got = Counter(flags.get(i, {}).get("pii", {}))
            if p.kind == "decoy":
                decoy_hits += sum(got.values())
            elif p.kind == "pii":
                want = Counter(k for k, _ in p.pii)
                for k, n in want.items():
                    per_kind[k][1] += n
                    per_kind[k][0] += min(n, got[k])
                    item_total += n
                    item_found += min(n, got[k])
    outside = sum(1 for i, f in flags.items() if f.get("pii") and i not in planted_ids)
    results["personal_data"] = {
        "recall": _rate(item_found, item_total),
        "recall_by_kind": {k: _rate(*v) for k, v in sorted(per_kind.items())},
        "decoys_flagged": decoy_hits,
        "flagged_outside_plants": outside,
    }
    # sanity: the detector agrees with itself on the planted values
    assert all(find_pii(v) for p in plants for _, v in p.pii)
    results["audit_timing"] = audit["timing"]
    print(json.dumps(results, indent=2))
    (args.out / "recall.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
