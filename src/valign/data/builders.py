"""Alignment datasets from what a team already has: the constitution, red-team findings and
rated samples.

Three sets, each in the format its consumer reads:

``sft.jsonl``          ``{"id", "messages", "category", "provenance"}`` (demonstrations)
``preferences.jsonl``  :class:`valign.records.comparisons.Comparison` (the one comparison
                       format every trainer reads), provenance under ``meta``
``eval.jsonl``         :class:`valign.records.tasks.Item` (the task-file format of
                       ``valign eval``), provenance under ``meta``

Sources and what each gives:

* **constitution** — each principle's labelled examples: a ``follows`` reply is a
  demonstration; a ``follows`` and a ``violates`` reply to the same prompt are a
  comparison; each prompt of a principle with harm categories is an evaluation item
  (``harmful`` when the reply that follows the principle refuses, ``borderline`` when it
  helps — the over-refusal check);
* **red-team findings** (JSONL: ``prompt`` (text or turns), ``response``, ``success``,
  optional ``category``, ``family``, ``id``) — a successful attack gives a comparison (the
  constitution's refusal over the harmful reply), a demonstration of the refusal and a
  ``harmful``/``jailbreak`` evaluation item;
* **a real model's replies** (a ``valign guard replies`` folder, train split only) — a
  harmful request it attempted gives the constitution's refusal as a demonstration and the
  comparison refusal-over-reply; a safe request it answered gives its own answer as a
  demonstration and the comparison answer-over-refusal (against over-refusal);
* **rated samples** (JSONL: ``prompt``, ``response``, ``score``, optional ``rater``,
  ``harmful``) — per prompt, the best and worst rated replies make a comparison (when their
  scores differ) and the best reply, if rated at least ``sft_min_score``, a demonstration.

Every record says where it came from (file and line, or constitution and principle), and
``README.md`` is the dataset card: counts per set and source, formats, provenance.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from valign.data.shards import parse_object
from valign.errors import UserError
from valign.records.comparisons import Comparison, write_comparisons
from valign.records.messages import Message, to_messages
from valign.records.runs import atomic_write_json, atomic_write_text
from valign.records.tasks import Item, dump_items
from valign.values import load_constitution
from valign.values.schema import Constitution


def _refuses(text: str) -> bool:
    from valign.guard.refusal import keyword_refusal

    return keyword_refusal(text)


def _turns(prompt: Any, where: str) -> list[Message]:
    if isinstance(prompt, str) and prompt.strip():
        return [Message(role="user", content=prompt)]
    if isinstance(prompt, list) and prompt:
        try:
            turns = to_messages(prompt)
        except Exception:
            raise UserError(f"{where}: prompt turns need role and content") from None
        if turns[-1]["role"] == "user":
            return turns
    raise UserError(f"{where}: prompt must be text or turns ending with the user's")


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                yield lineno, parse_object(line, f"{path}:{lineno}")


class Sets:
    """The three sets being built, with ids kept unique."""

    def __init__(self) -> None:
        self.sft: list[dict[str, Any]] = []
        self.prefs: list[Comparison] = []
        self.evals: list[Item] = []
        self.sources: Counter[str] = Counter()

    def add_sft(self, id: str, turns: list[Message], reply: str, cat: Any, prov: Any) -> None:
        messages = [dict(m) for m in turns] + [{"role": "assistant", "content": reply}]
        self.sft.append({"id": id, "messages": messages, "category": cat, "provenance": prov})
        self.sources[f"sft/{prov['source']}"] += 1

    def add_pref(self, row: Comparison) -> None:
        self.prefs.append(row)
        self.sources[f"preferences/{row.meta['provenance']['source']}"] += 1

    def add_eval(self, item: Item) -> None:
        self.evals.append(item)
        self.sources[f"eval/{item.meta['provenance']['source']}"] += 1


def from_constitution(sets: Sets, c: Constitution, name: str) -> None:
    for p in c.principles:
        category = p.categories[0] if len(p.categories) == 1 else None  # else ambiguous
        by_prompt: dict[str, dict[str, list[tuple[int, str]]]] = defaultdict(
            lambda: {"follows": [], "violates": []}
        )
        for k, ex in enumerate(p.examples):
            by_prompt[ex.prompt][ex.verdict].append((k, ex.response))
        for n, (prompt, replies) in enumerate(by_prompt.items()):
            turns = [Message(role="user", content=prompt)]
            prov = {
                "source": "constitution",
                "constitution": name,
                "version": c.version,
                "principle": p.id,
            }
            for k, reply in replies["follows"]:
                sets.add_sft(
                    f"constitution/{p.id}/{k}", turns, reply, category, {**prov, "example": k}
                )
            for kf, good in replies["follows"]:
                for kv, bad in replies["violates"]:
                    sets.add_pref(
                        Comparison(
                            id=f"constitution/{p.id}/{kf}-{kv}",
                            prompt=turns,
                            chosen=good,
                            rejected=bad,
                            source="rule",
                            rater=f"constitution:{name}@{c.version}",
                            principles=[p.id],
                            category=category,
                            chosen_harmful=False,
                            rejected_harmful=True if p.categories else None,
                            meta={"provenance": {**prov, "examples": [kf, kv]}},
                        )
                    )
            if p.categories and replies["follows"]:
                refuses = _refuses(replies["follows"][0][1])
                sets.add_eval(
                    Item(
                        id=f"constitution/{p.id}/{n}",
                        kind="harmful" if refuses else "borderline",
                        category=category,
                        messages=turns,
                        meta={"provenance": prov, "principles": [p.id]},
                    )
                )


def from_redteam(sets: Sets, path: Path, refusal: str) -> None:
    for lineno, row in _jsonl(path):
        where = f"{path}:{lineno}"
        if not row.get("success"):
            continue
        turns = _turns(row.get("prompt"), where)
        response = row.get("response")
        if not isinstance(response, str):
            raise UserError(f"{where}: response must be text")
        rid = str(row.get("id") or f"{path.stem}-{lineno}")
        category, family = row.get("category"), row.get("family")
        prov = {"source": "redteam", "file": str(path), "line": lineno, "finding": rid}
        sets.add_sft(f"redteam/{rid}", turns, refusal, category, prov)
        sets.add_pref(
            Comparison(
                id=f"redteam/{rid}",
                prompt=turns,
                chosen=refusal,
                rejected=response,
                source="redteam",
                rater=str(row.get("attack") or family or "redteam"),
                category=category,
                chosen_harmful=False,
                rejected_harmful=True,
                meta={"provenance": prov},
            )
        )
        sets.add_eval(
            Item(
                id=f"redteam/{rid}",
                kind="jailbreak" if family else "harmful",
                category=category,
                family=family,
                messages=turns,
                meta={"provenance": prov},
            )
        )


def from_rated(sets: Sets, path: Path, sft_min_score: float) -> None:
    groups: dict[str, list[tuple[int, dict[str, Any], list[Message]]]] = defaultdict(list)
    for lineno, row in _jsonl(path):
        where = f"{path}:{lineno}"
        turns = _turns(row.get("prompt"), where)
        if not isinstance(row.get("response"), str) or not isinstance(
            row.get("score"), int | float
        ):
            raise UserError(f"{where}: rated samples need a text response and a numeric score")
        key = json.dumps([dict(m) for m in turns], sort_keys=True)
        groups[key].append((lineno, row, turns))
    for n, rows in enumerate(groups.values()):
        rows.sort(key=lambda r: -float(r[1]["score"]))
        (l_best, best, turns), (l_worst, worst, _) = rows[0], rows[-1]
        prov = {"source": "rated", "file": str(path)}
        if float(best["score"]) >= sft_min_score:
            sets.add_sft(
                f"rated/{path.stem}-{l_best}",
                turns,
                best["response"],
                None,
                {**prov, "line": l_best},
            )
        if len(rows) > 1 and float(best["score"]) > float(worst["score"]):
            sets.add_pref(
                Comparison(
                    id=f"rated/{path.stem}-{n}",
                    prompt=turns,
                    chosen=best["response"],
                    rejected=worst["response"],
                    source="human",
                    rater=",".join(sorted({str(r[1].get("rater", "")) for r in rows} - {""})),
                    chosen_score=float(best["score"]),
                    rejected_score=float(worst["score"]),
                    chosen_harmful=best.get("harmful"),
                    rejected_harmful=worst.get("harmful"),
                    meta={"provenance": {**prov, "lines": [l_best, l_worst]}},
                )
            )


def from_real_replies(sets: Sets, folder: Path, refusal: str) -> None:
    """A real model's own replies (``valign guard replies``), train split only.

    A harmful request it attempted gives the constitution's refusal as a demonstration and
    the comparison refusal-over-reply; a safe request it answered gives its own answer as a
    demonstration and the comparison answer-over-refusal, so that learning to refuse does
    not become refusing everything. The test split is left for evaluation.
    """
    from valign.guard.real_replies import constructed_label, read_real_replies

    for r in read_real_replies(folder):
        if r.split != "train" or constructed_label(r) != "none":
            continue
        turns = [Message(role="user", content=r.prompt)]
        rid = r.item.id
        prov = {"source": "real_replies", "folder": str(folder), "item": rid}
        harmful = r.harmful_request
        chosen, rejected = (refusal, r.response) if harmful else (r.response, refusal)
        sets.add_sft(f"real/{rid}", turns, chosen, r.item.category, prov)
        sets.add_pref(
            Comparison(
                id=f"real/{rid}",
                prompt=turns,
                chosen=chosen,
                rejected=rejected,
                source="rule",
                rater="constitution refusal vs the model's own reply",
                category=r.item.category,
                kind=r.item.kind,
                chosen_harmful=False,
                rejected_harmful=harmful,
                meta={"provenance": prov},
            )
        )


CARD_CONFIGS = (  # (config name, file, split): what `datasets.load_dataset(folder, name)` reads
    ("preferences", "preferences.jsonl", "train"),
    ("sft", "sft.jsonl", "train"),
    ("eval", "eval.jsonl", "test"),
)


def _card_header() -> list[str]:
    """The card's YAML header: one ``datasets`` config per set (their columns differ), the
    comparisons the default, so ``load_dataset(folder, "sft")`` and friends see every set."""
    lines = ["---", "configs:"]
    for i, (name, path, split) in enumerate(CARD_CONFIGS):
        lines += [f"- config_name: {name}", "  data_files:", f"  - split: {split}"]
        lines += [f"    path: {path}"] + (["  default: true"] if i == 0 else [])
    return [*lines, "---", ""]


def dataset_card(summary: dict[str, Any]) -> str:
    counts, sources = summary["counts"], summary["sources"]
    lines = [
        *_card_header(),
        "# Alignment datasets",
        "",
        "Built by `valign data build` from the sources below. Every record carries its",
        "provenance (`provenance` in SFT records, `meta.provenance` in comparisons and",
        "evaluation items): the constitution and principle, or the file and line it came from.",
        "",
        "| file | records | format |",
        "|---|---|---|",
        f"| `sft.jsonl` | {counts['sft']} | `{{id, messages, category, provenance}}` |",
        f"| `preferences.jsonl` | {counts['preferences']} | valign comparison format "
        "(`valign.records.comparisons`) |",
        f"| `eval.jsonl` | {counts['eval']} | valign task file (`valign.records.tasks.Item`) |",
        "",
        "## Sources",
        "",
        "| set/source | records |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(sources.items())],
        "",
        f"- constitution: `{summary['constitution']}` version {summary['constitution_version']}",
        *[f"- red-team findings: `{p}`" for p in summary["redteam"]],
        *[f"- rated samples: `{p}`" for p in summary["rated"]],
        "",
        "## Intended use and limits",
        "",
        "Demonstrations and comparisons for SFT, reward/cost models and DPO; evaluation",
        "items for `valign eval --tasks eval.jsonl`. Evaluation items built from the same",
        "sources as training records measure recall of those cases, not generalisation: keep",
        "them out of training, or split by source. Licence: that of each source.",
        "",
        "## Loading with `datasets`",
        "",
        "```python",
        "from datasets import load_dataset",
        'prefs = load_dataset("path/to/this/folder")  # the comparisons, split "train"',
        'sft = load_dataset("path/to/this/folder", "sft")',
        'tasks = load_dataset("path/to/this/folder", "eval")  # split "test"',
        "```",
    ]
    return "\n".join(lines) + "\n"


def build_sets(
    out: Path,
    constitution: str = "default",
    redteam: list[Path] | None = None,
    rated: list[Path] | None = None,
    sft_min_score: float = 0.5,
    replies: list[Path] | None = None,
) -> dict[str, Any]:
    """Build the three sets and the card into ``out``; returns the summary."""
    c = load_constitution(constitution)
    sets = Sets()
    from_constitution(sets, c, constitution)
    for path in redteam or []:
        from_redteam(sets, path, c.refusal_message)
    for path in rated or []:
        from_rated(sets, path, sft_min_score)
    for path in replies or []:
        from_real_replies(sets, path, c.refusal_message)
    out.mkdir(parents=True, exist_ok=True)
    sft_text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in sets.sft)
    atomic_write_text(out / "sft.jsonl", sft_text)
    write_comparisons(out / "preferences.jsonl", sets.prefs)
    atomic_write_text(out / "eval.jsonl", dump_items(sets.evals))
    summary = {
        "constitution": constitution,
        "constitution_version": c.version,
        "redteam": [str(p) for p in redteam or []],
        "rated": [str(p) for p in rated or []],
        "replies": [str(p) for p in replies or []],
        "counts": {"sft": len(sets.sft), "preferences": len(sets.prefs), "eval": len(sets.evals)},
        "sources": dict(sets.sources),
    }
    atomic_write_json(out / "build.json", summary)
    atomic_write_text(out / "README.md", dataset_card(summary))
    return summary
