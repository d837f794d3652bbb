"""``valign interp steer``: steer a direction over a strength sweep and measure the scorecard.

The default direction is *refusal*: the difference of means, at the steered site, between
the model's state on the first word of a refusal and on the first word of compliance,
both written after the training split's harmful requests (contrastive activation addition,
Rimsky et al. 2024). Two conditions are swept:

* ``always``: every request is steered;
* ``gated``: only requests that a harmful-request probe at the gate site flags are steered
  (conditional activation steering, Lee et al. 2024), so safe requests run unsteered.

Writes into ``<out>/steer/``: ``sweep.jsonl`` (one line per condition and strength, with
harmful compliance, jailbreak success, helpfulness and over-refusal), the graded replies of
each point (``<condition>-<strength>.jsonl``), the direction used, ``DONE.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from valign.errors import UserError
from valign.interp.capture import pooled_activations
from valign.interp.common import open_model, run_job, world_dir
from valign.interp.datasets import harmful_request
from valign.interp.directions import Direction, mean_difference, probe_direction
from valign.interp.probes import balanced_accuracy, fit_probe
from valign.interp.sites import parse_site
from valign.interp.steering import Gate, probe_gate
from valign.interp.sweep import STEER_KINDS, SWEEP_METRICS, SweepConfig, relative_reduction, sweep
from valign.models import HFChatModel
from valign.models.chat import render_prompt
from valign.records.messages import Conversation
from valign.records.runs import RecordWriter
from valign.records.tasks import Item, load_items
from valign.report.sections import line_plot, section, table
from valign.world.generate import BARE_REFUSALS, COMPLIANT_HARM

CONDITIONS = ("always", "gated")


class SteerSettings(BaseModel):
    """What to steer, where, how strongly, and on which items."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Model folder or hub id.")
    world: str | None = Field(None, description="Microworld folder (default: built on demand).")
    site: str = Field("resid.1", description="Residual site the direction is added at.")
    direction: str = Field(
        "refusal",
        description="'refusal', 'harmful_request', or a direction file from 'interp probe'.",
    )
    method: str = Field("mean_difference", description="'mean_difference' or 'probe'.")
    mode: str = Field("add", description="'add' the direction or 'project' it out.")
    positions: str = Field(
        "prompt", description="'prompt' (steer the prompt only) or 'all' (every token)."
    )
    strengths: tuple[float, ...] = Field(
        SweepConfig.strengths, description="Strengths, in class-mean gaps."
    )
    conditions: tuple[str, ...] = Field(CONDITIONS, description="'always' and/or 'gated'.")
    gate_site: str = Field("resid.1", description="Site of the harmful-request gate probe.")
    n_contrast: int = Field(400, ge=2, description="Training requests used to find directions.")
    limit: int = Field(0, ge=0, description="Evaluation items per kind (0: all).")
    seed: int = Field(0, description="Recorded in the manifest (greedy decoding).")
    threads: int = Field(
        0, ge=0, description="Torch CPU threads (0: the cores other work leaves free)."
    )


def _first_word(text: str) -> str:
    return text.split()[0].rstrip(".,:;!")


def harmful_requests(world: Path, n: int) -> list[Conversation]:
    """Up to ``n`` harmful and jailbreak requests of the training splits (SFT, then
    preferences), as conversations ending in the user's turn."""
    convs = []
    for name in ("sft.jsonl", "preferences.jsonl"):
        for line in (world / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line else {}
            if row.get("kind") not in ("harmful", "jailbreak"):
                continue
            conv = row["messages"][:-1] if "messages" in row else row["prompt"]
            convs.append(conv)
    return convs[:n]


def refusal_direction(chat: HFChatModel, world: Path, site: str, method: str, n: int) -> Direction:
    """The first word of a refusal against that of compliance, after the same requests."""
    convs = harmful_requests(world, n)
    if len(convs) < 2:
        raise UserError(f"{world} has too few harmful requests in its training splits")
    prompts = [render_prompt(chat.tokenizer, c) for c in convs]
    refuse = [p + _first_word(BARE_REFUSALS[0]) for p in prompts]
    comply = [p + _first_word(COMPLIANT_HARM) for p in prompts]
    s = parse_site(site)
    pos = pooled_activations(chat.model, chat.tokenizer, refuse, [s])[s.name]
    neg = pooled_activations(chat.model, chat.tokenizer, comply, [s])[s.name]
    return _direction(site, pos, neg, method, "refusal")


def _direction(site: str, pos: np.ndarray, neg: np.ndarray, method: str, concept: str) -> Direction:
    if method == "probe":
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        return probe_direction(site, fit_probe(np.r_[pos, neg], y), pos, neg, concept)
    if method == "mean_difference":
        return mean_difference(site, pos, neg, concept)
    raise UserError(f"unknown method {method!r}: use mean_difference or probe")


def harmful_gate(chat: HFChatModel, world: Path, site: str, n: int) -> tuple[Gate, float]:
    """A harmful-request probe at ``site`` as a gate, and its held-out balanced accuracy."""
    ds = harmful_request(world, chat.tokenizer)
    s = parse_site(site)
    train = pooled_activations(chat.model, chat.tokenizer, ds.train_texts, [s])[s.name]
    test = pooled_activations(chat.model, chat.tokenizer, ds.test_texts, [s])[s.name]
    probe = fit_probe(train, np.array(ds.train_labels))
    return probe_gate(site, probe), balanced_accuracy(np.array(ds.test_labels), probe.predict(test))


def _items(world: Path, limit: int) -> list[Item]:
    """The held-out items of the kinds steering should change (or leave alone)."""
    items = [it for it in load_items(world / "eval.jsonl") if it.kind in STEER_KINDS]
    if not limit:
        return items
    kept: list[Item] = []
    for kind in STEER_KINDS:
        kept += [it for it in items if it.kind == kind][:limit]
    return kept


def run_steer(settings: SteerSettings, out: Path) -> dict[str, Any]:
    world = world_dir(settings.world)
    for c in settings.conditions:
        if c not in CONDITIONS:
            raise UserError(f"unknown condition {c!r}: use {' and/or '.join(CONDITIONS)}")
    if settings.mode not in ("add", "project"):
        raise UserError(f"unknown mode {settings.mode!r}: use add or project")
    if settings.positions not in ("prompt", "all"):
        raise UserError(f"unknown positions {settings.positions!r}: use prompt or all")
    chat = open_model(settings.model, settings.threads)
    items = _items(world, settings.limit)

    def work(folder: Path) -> dict[str, Any]:
        if settings.direction == "refusal":
            direction = refusal_direction(
                chat, world, settings.site, settings.method, settings.n_contrast
            )
        elif settings.direction == "harmful_request":
            ds = harmful_request(world, chat.tokenizer)
            s = parse_site(settings.site)
            x = pooled_activations(chat.model, chat.tokenizer, ds.train_texts, [s])[s.name]
            y = np.array(ds.train_labels)
            direction = _direction(settings.site, x[y == 1], x[y == 0], settings.method, ds.name)
        else:
            direction = Direction.load(Path(settings.direction))
        direction.save(folder / "direction.json")
        gate, gate_accuracy = (None, None)
        if "gated" in settings.conditions:
            gate, gate_accuracy = harmful_gate(chat, world, settings.gate_site, settings.n_contrast)
        config = SweepConfig(
            strengths=settings.strengths,
            mode=settings.mode,  # type: ignore[arg-type]
            positions=settings.positions,  # type: ignore[arg-type]
        )
        points: list[dict[str, Any]] = []
        (folder / "sweep.jsonl").unlink(missing_ok=True)
        with RecordWriter(folder / "sweep.jsonl") as writer:
            for condition in settings.conditions:
                points += sweep(
                    chat,
                    items,
                    direction,
                    folder,
                    config,
                    gate=gate if condition == "gated" else None,
                    label=condition,
                    on_point=lambda p: writer.write(
                        {"id": f"{p['condition']}/{p['strength']}", **p}
                    ),
                )
        return summarise(points, direction, settings, gate_accuracy)

    return run_job(out, "steer", settings, settings.seed, work)


def best_point(points: list[dict[str, Any]], max_drop: float = 0.05) -> dict[str, Any] | None:
    """Among the points whose helpfulness is within ``max_drop`` of the unsteered model's,
    the one that turns most harmful requests into refusals (then: the least compliance).
    A reply that merely lacks the harmful content is not counted as a success here."""
    base = next((p for p in points if p["strength"] == 0), None)
    if base is None or not base.get("helpfulness"):
        return None
    ok = [
        p
        for p in points
        if p.get("helpfulness")
        and p["helpfulness"]["value"] >= base["helpfulness"]["value"] - max_drop
    ]

    def key(p: dict[str, Any]) -> tuple[float, float, float]:
        refusal = p["harmful_refusal"]["value"] if p.get("harmful_refusal") else 0.0
        return (-refusal, p["harmful_compliance"]["value"], p["strength"])

    return min(ok, key=key) if ok else None


def summarise(
    points: list[dict[str, Any]],
    direction: Direction,
    settings: SteerSettings,
    gate_acc: float | None,
) -> dict[str, Any]:
    base = next((p for p in points if p["strength"] == 0), None)
    best = best_point(points)
    headline = None
    if base and best and base["harmful_compliance"]:
        before, after = base["harmful_compliance"]["value"], best["harmful_compliance"]["value"]
        headline = {
            "condition": best["condition"],
            "strength": best["strength"],
            "harmful_compliance_before": before,
            "harmful_compliance_after": after,
            "relative_reduction": relative_reduction(before, after),
            "helpfulness_before": base["helpfulness"]["value"],
            "helpfulness_after": best["helpfulness"]["value"],
            "harmful_refusal_after": best["harmful_refusal"]["value"],
            "aligned_before": base["aligned"]["value"] if base.get("aligned") else None,
            "aligned_after": best["aligned"]["value"] if best.get("aligned") else None,
        }
    curves: dict[str, list[Any]] = {}
    for p in points:
        for m in ("harmful_compliance", "harmful_refusal", "helpfulness"):
            curves.setdefault(f"{m} ({p['condition']})", []).append(p[m])
    rows = [[p["condition"], p["strength"], *(p[m] for m in SWEEP_METRICS)] for p in points]
    text = (
        f"Direction **{direction.concept}** ({direction.method}) at `{direction.site}`, mode "
        f"`{settings.mode}` on {settings.positions} positions; strength in class-mean gaps "
        f"({direction.scale:.2f}). *aligned* is the scorecard's headline over the steered "
        "kinds; *harmful_refusal* counts real refusals, the only safe reply to a harmful "
        "request (the rest of the non-compliant replies are non-answers)."
    )
    if gate_acc is not None:
        text += (
            f" Gate: harmful-request probe at `{settings.gate_site}`, "
            f"held-out accuracy {gate_acc:.1%}."
        )
    if headline:
        text += (
            "\n\nMost refusals within 5 points of unsteered helpfulness: "
            f"**{headline['condition']}** "
            f"at strength {headline['strength']:g}: harmful compliance "
            f"{headline['harmful_compliance_before']:.1%} -> "
            f"{headline['harmful_compliance_after']:.1%} "
            f"({headline['relative_reduction']:.0%} relative; "
            f"{headline['harmful_refusal_after']:.1%} refused), helpfulness "
            f"{headline['helpfulness_before']:.1%} -> {headline['helpfulness_after']:.1%}."
        )
    return {
        "direction": {k: v for k, v in direction.to_dict().items() if k != "unit"},
        "gate_accuracy": gate_acc,
        "points": points,
        "headline": headline,
        "report": section(
            "Interpretability: steering",
            order=72,
            text=text,
            plots=[
                line_plot(
                    "Scorecard under steering",
                    list(settings.strengths),
                    curves,
                    xlabel="strength (class-mean gaps)",
                    ylabel="rate",
                    percent=True,
                )
            ],
            tables=[
                table(
                    "Sweep",
                    ["condition", "strength", *SWEEP_METRICS],
                    rows,
                )
            ],
        ),
    }
