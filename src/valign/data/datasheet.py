"""The datasheet of a corpus (Gebru et al., "Datasheets for Datasets", 2021).

Seven sections, each a list of the paper's questions. A question the audit can answer is
answered from the measurements (``audit.json``); the others stay as explicit questions for
the dataset's owner, marked **To answer**, because only the people who made the corpus
know why and how they made it. The same structure renders to Markdown
(``datasheet.md``) and to one self-contained HTML page with plots (``datasheet.html``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valign.records.runs import atomic_write_text
from valign.report.plots import plot_svg
from valign.report.sections import bar_plot

SECTIONS = (
    "Motivation",
    "Composition",
    "Collection process",
    "Preprocessing, cleaning and labelling",
    "Uses",
    "Distribution",
    "Maintenance",
)
OPEN = "**To answer.**"


@dataclass
class Entry:
    """One question; ``answer`` is None when only the owner can answer it."""

    question: str
    answer: str | None = None
    table: tuple[list[str], list[list[Any]]] | None = None
    plots: list[dict[str, Any]] = field(default_factory=list)


def harm_plots(harm: dict[str, Any]) -> list[dict[str, Any]]:
    """Unsafe documents by taxonomy category (none when nothing was flagged)."""
    cats = harm["by_category"]
    if not cats:
        return []
    return [
        bar_plot(
            "Unsafe documents by category", list(cats), list(cats.values()), ylabel="documents"
        )
    ]


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _n(x: int) -> str:
    return f"{x:,}"


def _length_labels(bins: Sequence[int]) -> list[str]:
    labels = []
    for i, lo in enumerate(bins):
        hi = bins[i + 1] - 1 if i + 1 < len(bins) else None
        labels.append(str(lo) if hi == lo or lo == 0 else f"{lo}-{hi}" if hi else f"{lo}+")
    return labels


def _composition(a: dict[str, Any]) -> list[Entry]:
    size, length, dup = a["size"], a["length"], a["duplicates"]
    langs = a["languages"]
    n = max(size["documents"], 1)
    hist = length["hist"]
    last = max((i for i, c in enumerate(hist) if c), default=0)
    labels = _length_labels(length["bins"])[: last + 1]
    pii, harm, rep = a["pii"], a["harm"], a["representation"]
    entries = [
        Entry("What do the instances represent?", None),
        Entry(
            "How many instances are there in total?",
            f"{_n(size['documents'])} documents ({_n(size['dialogues'])} dialogues, "
            f"{_n(size['prose'])} prose), {size['bytes'] / 1e6:,.1f} MB, "
            f"{_n(size['words'])} words; {_n(size['empty'])} empty documents.",
        ),
        Entry(
            "What data does each instance consist of? (length distribution)",
            f"Mean {length['mean_words']:.1f} words; median at most "
            f"{length['median_words_at_most']}, 95th percentile at most "
            f"{length['p95_words_at_most']} words.",
            plots=[
                bar_plot("Document length (words)", labels, hist[: last + 1], ylabel="documents")
            ],
        ),
        Entry(
            "Which languages does it contain?",
            ", ".join(f"{k}: {_pct(v / n)}" for k, v in list(langs.items())[:8])
            + " (script, then function words; `und` = undetermined).",
            plots=[bar_plot("Languages", list(langs)[:10], list(langs.values())[:10])],
        ),
        Entry(
            "Are there any errors, sources of noise, or redundancies?",
            f"{_n(dup['exact'])} exact duplicates ({_pct(dup['exact'] / n)}) and "
            f"{_n(dup['near'])} near duplicates ({_pct(dup['near'] / n)}, estimated Jaccard "
            f">= {dup['threshold']} on word 5-grams, MinHash LSH) in {_n(dup['clusters'])} "
            "clusters. Which ones: `duplicates.jsonl`.",
        ),
        Entry(
            "Does the dataset contain data that might be considered confidential, or that "
            "identifies individuals directly or indirectly?",
            f"{_n(pii['documents'])} documents ({_pct(pii['share'])}) contain personal data "
            "found by pattern and checksum: "
            + (", ".join(f"{k} {_n(v)}" for k, v in pii["items_by_kind"].items()) or "none")
            + ". Which documents: `flags.jsonl` (field `pii`); `valign data filter` redacts them.",
            table=(
                ["kind", "documents", "items"],
                [
                    [k, pii["documents_by_kind"].get(k, 0), pii["items_by_kind"].get(k, 0)]
                    for k in pii["kinds_searched"]
                ],
            ),
        ),
        Entry(
            "Does the dataset contain data that, if viewed directly, might be offensive, "
            "insulting, threatening, or might otherwise cause anxiety? (harmful content by "
            "taxonomy category)",
            (
                f"The guard (`{harm['guard']}`) flags {_n(harm['flagged'])} of "
                f"{_n(harm['screened'])} documents ({_pct(harm['share'])}) as unsafe; "
                f"the insult lexicon matches {_n(a['toxicity']['lexicon_documents'])} "
                f"({_pct(a['toxicity']['share'])})."
                if harm["screened"]
                else "Not screened (audit run without a guard). "
                f"The insult lexicon matches {_n(a['toxicity']['lexicon_documents'])} documents."
            ),
            plots=harm_plots(harm),
        ),
        Entry(
            "Does the dataset identify any subpopulations (e.g. by age, gender)? How are they "
            "represented?",
            _representation_text(rep),
            table=(
                ["axis", "group", "documents", "share", "mean sentiment", "under-represented"],
                [
                    [axis, g["group"], g["docs"], _pct(g["share"]), g["sentiment"], g["under"]]
                    for axis, info in rep["axes"].items()
                    for g in info["groups"]
                    if info["mentions"]
                ],
            ),
            plots=[
                bar_plot(
                    f"Representation: {axis}",
                    [g["group"] for g in info["groups"]],
                    [g["share"] for g in info["groups"]],
                    ylabel="share of the axis's mentions",
                    reference=1 / max(len(info["groups"]), 1),
                )
                for axis, info in rep["axes"].items()
                if info["mentions"]
            ],
        ),
        Entry(
            "Are groups tied to particular traits (possible stereotypes)?",
            _ties_text(rep),
            table=(
                ["group", "trait", "valence", "documents", "PMI (bits)", "flagged"],
                [
                    [t["group"], t["trait"], t["valence"], t["docs"], t["pmi"], t["stereotype"]]
                    for t in rep["associations"][:20]
                ],
            ),
        ),
        Entry(
            "Does it repeat popular claims that sourced statements contradict (possible "
            "misconceptions)?",
            _claims_text(a["claims"]),
            table=(
                ["claim (hearsay)", "times", "sourced value(s)"],
                [
                    [
                        f"{c['subject']} {c['relation']} {c['value']}",
                        c["hearsay_count"],
                        ", ".join(c["sourced_values"]),
                    ]
                    for c in a["claims"]["contested"][:20]
                ],
            ),
        ),
        Entry("Is there a label or target associated with each instance?", None),
        Entry("Does the dataset contain all possible instances or is it a sample?", None),
        Entry("Are there recommended data splits?", None),
        Entry("Is the dataset self-contained, or does it link to external resources?", None),
    ]
    return entries


def _representation_text(rep: dict[str, Any]) -> str:
    under = rep["under_represented"]
    judged = [a for a, info in rep["axes"].items() if info["mentions"]]
    if not judged:
        return "No group of the lexicons is mentioned."
    text = f"Groups from the lexicons are mentioned on the axes {', '.join(judged)}. "
    if under:
        text += "Under-represented (below half an even share of their axis): " + ", ".join(
            f"{u['group']} ({u['axis']}, {_pct(u['share'])})" for u in under
        )
    else:
        text += "No group is below half an even share of its axis."
    return text + "."


def _ties_text(rep: dict[str, Any]) -> str:
    ties = rep["stereotype_ties"]
    cfg = rep["config"]
    if not ties:
        return (
            f"No group is tied to a negative trait (PMI >= {cfg['pmi_min']} bits in at least "
            f"{cfg['min_count']} documents)."
        )
    return (
        f"{len(ties)} group-trait ties flagged as possible stereotypes (negative trait, "
        f"PMI >= {cfg['pmi_min']} bits, at least {cfg['min_count']} documents): "
        + ", ".join(f"{t['group']} ~ {t['trait']} ({t['pmi']:.1f})" for t in ties)
        + "."
    )


def _claims_text(claims: dict[str, Any]) -> str:
    rows = claims["contested"]
    if not rows:
        return "No hearsay claim is contradicted by a sourced statement."
    return (
        f"{len(rows)} claims stated as hearsay contradict a sourced statement of the same "
        "subject and relation (listed below, most repeated first)."
    )


def sections(a: dict[str, Any], filtered: dict[str, Any] | None = None) -> dict[str, list[Entry]]:
    """Every section's entries, measurable ones answered from the audit ``a``."""
    prep_answer = (
        f"Filtered with policy `{filtered['policy']}`: {_n(filtered['removed'])} documents "
        f"removed, {_n(filtered['redacted'])} redacted, {_n(filtered['added'])} added "
        "(see `removed.jsonl` and `filter.json`)."
        if filtered
        else None
    )
    risks = []
    if a["harm"]["flagged"]:
        risks.append(f"{_pct(a['harm']['share'])} of documents flagged unsafe by the guard")
    if a["pii"]["documents"]:
        risks.append(f"{_pct(a['pii']['share'])} contain personal data")
    if a["representation"]["stereotype_ties"]:
        risks.append(f"{len(a['representation']['stereotype_ties'])} stereotype ties")
    if a["claims"]["contested"]:
        risks.append(f"{len(a['claims']['contested'])} contested claims")
    dup = a["duplicates"]
    if dup["exact"] + dup["near"]:
        risks.append(f"{_n(dup['exact'] + dup['near'])} duplicate documents")
    return {
        "Motivation": [
            Entry("For what purpose was the dataset created?"),
            Entry("Who created the dataset and on behalf of which entity?"),
            Entry("Who funded the creation of the dataset?"),
        ],
        "Composition": _composition(a),
        "Collection process": [
            Entry("How was the data associated with each instance acquired?"),
            Entry("What mechanisms or procedures were used to collect the data?"),
            Entry("If the dataset is a sample, what was the sampling strategy?"),
            Entry("Who was involved in the data collection process, and how were they paid?"),
            Entry("Over what timeframe was the data collected?"),
            Entry("Were any ethical review processes conducted?"),
            Entry(
                "Did the individuals in question consent to the collection and use of their "
                "data? (personal data found: see Composition)"
            ),
        ],
        "Preprocessing, cleaning and labelling": [
            Entry("Was any preprocessing, cleaning or labelling of the data done?", prep_answer),
            Entry("Was the raw data saved in addition to the preprocessed data?"),
            Entry(
                "Is the software used to preprocess the data available?",
                "The audit and the filter are `valign data audit` and `valign data filter`; "
                f"the lexicons used are listed in `audit.json` ({len(a['lexicon_files'])} files).",
            ),
        ],
        "Uses": [
            Entry("Has the dataset been used for any tasks already?"),
            Entry(
                "Is there anything about the composition of the dataset that might impact "
                "future uses?",
                ("Measured risks: " + "; ".join(risks) + ".") if risks else "None measured.",
            ),
            Entry("Are there tasks for which the dataset should not be used?"),
        ],
        "Distribution": [
            Entry("Will the dataset be distributed to third parties, and how?"),
            Entry("Under what license or terms of use will it be distributed?"),
            Entry("Have any third parties imposed restrictions on the data?"),
        ],
        "Maintenance": [
            Entry("Who will be supporting, hosting and maintaining the dataset?"),
            Entry("How can the owner be contacted?"),
            Entry("Will the dataset be updated, and how often, by whom?"),
            Entry("Are there limits on the retention of data about people?"),
            Entry("Is there a mechanism for others to extend or contribute to the dataset?"),
        ],
    }


def _md_cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str("" if value is None else value).replace("|", "\\|")


def render_markdown(title: str, secs: dict[str, list[Entry]]) -> str:
    out = [f"# Datasheet: {title}", ""]
    out.append(
        "Sections and questions follow Gebru et al., *Datasheets for Datasets* (2021). "
        f"Answers come from `valign data audit`; {OPEN} marks a question for the owner."
    )
    for name in SECTIONS:
        out += ["", f"## {name}", ""]
        for e in secs[name]:
            out += [f"**{e.question}**", "", e.answer if e.answer is not None else OPEN, ""]
            if e.table and e.table[1]:
                cols, rows = e.table
                out.append("| " + " | ".join(cols) + " |")
                out.append("|" + "---|" * len(cols))
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
                out.append("")
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.q{font-weight:600;margin-top:1rem}.open{color:#a15c00;font-style:italic}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
.plot svg{max-width:40rem;height:auto}code{background:#f4f4f4;padding:0 .2rem}
"""


def _inline(text: str) -> str:
    import re

    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)


def render_html(title: str, secs: dict[str, list[Entry]]) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Datasheet: {html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Datasheet: {html.escape(title)}</h1>",
        "<p>Sections and questions follow Gebru et al., <em>Datasheets for Datasets</em> "
        "(2021). Answers come from <code>valign data audit</code>; "
        "<span class='open'>To answer</span> marks a question for the owner.</p>",
    ]
    n_plot = 0
    for name in SECTIONS:
        parts.append(f"<h2>{html.escape(name)}</h2>")
        for e in secs[name]:
            parts.append(f"<p class='q'>{html.escape(e.question)}</p>")
            if e.answer is None:
                parts.append("<p class='open'>To answer.</p>")
            else:
                parts.append(f"<p>{_inline(e.answer)}</p>")
            if e.table and e.table[1]:
                cols, rows = e.table
                head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
                body = "".join(
                    "<tr>" + "".join(f"<td>{html.escape(_md_cell(c))}</td>" for c in row) + "</tr>"
                    for row in rows
                )
                parts.append(f"<table><tr>{head}</tr>{body}</table>")
            for spec in e.plots:
                n_plot += 1
                parts.append(f"<div class='plot'>{plot_svg(spec, id_prefix=f'p{n_plot}')}</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_datasheet(
    audit: dict[str, Any], out: Path, filtered: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``datasheet.md`` and ``datasheet.html`` into ``out``."""
    title = Path(audit["corpus"]["path"]).name
    secs = sections(audit, filtered)
    md = atomic_write_text(out / "datasheet.md", render_markdown(title, secs))
    page = atomic_write_text(out / "datasheet.html", render_html(title, secs))
    return md, page
