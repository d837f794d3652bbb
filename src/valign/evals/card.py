"""A scorecard written into the model card of the model it scored.

Every model valign trains leaves with a Hub-style card (``README.md``, tagged ``valign``)
whose "Evaluation" section says the model was not measured yet. ``valign eval`` on such a
folder replaces that section with the scorecard's summary — the headline figures with their
95% intervals, the task set (its source, size and SHA-256), the constitution and the grader —
and writes the same figures into the card's ``model-index`` front matter, the structured
form the Hugging Face Hub shows as evaluation results. Cards that valign did not write are
left alone, and so is every other section of a valign card.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from valign.evals.scorecard import METRIC_TITLES, better
from valign.records.runs import atomic_write_text
from valign.report import format_value

CARD = "README.md"
TAG = "valign"
SECTION = "## Evaluation"
#: The figures the summary shows, in order (titles and directions: valign.evals.scorecard).
HEADLINE = (
    "aligned",
    "harmful_compliance",
    "jailbreak_success",
    "over_refusal",
    "helpfulness",
    "truthfulness_mc1",
    "bias_ambiguous",
    "power_seeking",
)
_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def _split(text: str) -> tuple[dict[str, Any], str] | None:
    """(front matter, body) of a card valign wrote; None for any other card."""
    match = _FRONT.match(text)
    if match is None:
        return None
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None
    if not isinstance(front, dict) or TAG not in (front.get("tags") or []):
        return None
    return front, text[match.end() :]


def summary_markdown(card: dict[str, Any], constitution: str) -> str:
    """The Evaluation section for a scorecard dict (``compute_scorecard``'s, with its
    ``tasks`` and ``grader``)."""
    metrics = card.get("metrics", {})
    rows = [
        f"| {METRIC_TITLES[key]} | {format_value(metrics[key])} | {metrics[key].get('n', '')} "
        f"| {better(key)} |"
        for key in HEADLINE
        if metrics.get(key) and metrics[key].get("value") is not None
    ]
    tasks = card.get("tasks", {})
    sha = str(tasks.get("sha256", ""))[:12]
    lines = [
        SECTION,
        "",
        f"Scored by `valign eval` on {tasks.get('n', card.get('n_items', '?'))} items "
        f"({tasks.get('source', 'unknown task set')}, SHA-256 `{sha}`), against the "
        f"`{constitution}` constitution; grader: {card.get('grader', 'unknown')}.",
        "",
        "| figure | value [95% interval] | items | better |",
        "|---|---|---|---|",
        *rows,
        "",
        "The whole scorecard (every metric, per category, per principle, per jailbreak family) "
        "is the `scorecard.json` of that evaluation run.",
        "",
    ]
    return "\n".join(lines)


def model_index(name: str, card: dict[str, Any]) -> list[dict[str, Any]]:
    """The Hub's ``model-index`` entry for the headline figures."""
    metrics = card.get("metrics", {})
    tasks = card.get("tasks", {})
    found = [
        {"type": key, "name": METRIC_TITLES[key], "value": round(float(metrics[key]["value"]), 4)}
        for key in HEADLINE
        if metrics.get(key) and metrics[key].get("value") is not None
    ]
    dataset = {"name": str(tasks.get("source", "valign tasks")), "type": "valign-tasks"}
    if tasks.get("sha256"):
        dataset["revision"] = str(tasks["sha256"])
    return [
        {
            "name": name,
            "results": [
                {
                    "task": {"type": "text-generation", "name": "valign scorecard"},
                    "dataset": dataset,
                    "metrics": found,
                }
            ],
        }
    ]


def record_scorecard(model_dir: Path, card: dict[str, Any], constitution: str) -> Path | None:
    """Write ``card``'s summary into ``model_dir``'s valign model card; the card's path, or
    None when the folder has no card that valign wrote (nothing is changed then)."""
    path = model_dir / CARD
    if not path.is_file():
        return None
    split = _split(path.read_text(encoding="utf-8"))
    if split is None:
        return None
    front, body = split
    # valign exports into RUN/model: the run's name says which model it is.
    name = model_dir.parent.name if model_dir.name == "model" else model_dir.name
    front["model-index"] = model_index(name or "model", card)
    section = summary_markdown(card, constitution)
    start = body.find(SECTION)
    if start < 0:
        body = body.rstrip("\n") + "\n\n" + section
    else:
        following = re.search(r"^(## |Versions: )", body[start + len(SECTION) :], re.M)
        end = len(body) if following is None else start + len(SECTION) + following.start()
        body = body[:start] + section + ("\n" + body[end:] if end < len(body) else "")
    front_text = yaml.safe_dump(front, sort_keys=False, allow_unicode=True).strip()
    return atomic_write_text(path, f"---\n{front_text}\n---\n{body}")
