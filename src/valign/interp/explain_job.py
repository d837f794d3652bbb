"""``valign interp explain``: capture neuron activations, explain every neuron, score them.

Writes into ``<out>/explain/``: ``store/`` (the activation store), ``neurons.jsonl`` (one
line per neuron: explanation, score, and its top examples as token windows for the
page), ``manifest.json`` and ``DONE.json`` with the score distribution.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from valign.errors import UserError
from valign.interp.capture import CaptureConfig, capture
from valign.interp.common import open_model, run_job, world_dir
from valign.interp.concept_explainer import ConceptExplainer
from valign.interp.concepts import microworld_concepts
from valign.interp.datasets import world_seed
from valign.interp.neurons import Example, Explainer, NeuronResult, SelectionConfig, explain_site
from valign.interp.sites import parse_sites
from valign.interp.store import ActivationStore, StoredRecord
from valign.interp.texts import read_texts
from valign.records.runs import RecordWriter
from valign.report.sections import histogram_plot, section, table

GOOD_SCORE = 0.7
WINDOW = 12  # tokens shown on each side of a top example's peak


class ExplainSettings(BaseModel):
    """What to explain and with what."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Model folder or hub id whose neurons are explained.")
    world: str | None = Field(None, description="Microworld folder (default: built on demand).")
    texts: str | None = Field(None, description="JSONL of texts to read (default: the corpus).")
    limit: int = Field(2000, ge=1, description="Texts read from the file.")
    sites: str = Field("mlp.*", description="Sites whose columns are explained, e.g. mlp.1,mlp.3.")
    neurons: int = Field(0, ge=0, description="Neurons per site (0: all; else the first N).")
    explainer: str = Field(
        "concepts", description="'concepts' (the world's labelled concepts) or a model spec."
    )
    simulator: str | None = Field(None, description="Simulator model spec (default: explainer).")
    n_top: int = Field(10, ge=1, description="Top records to explain from (and as many to score).")
    n_random: int = Field(10, ge=0, description="Random records added to the scoring set.")
    max_tokens: int = Field(128, ge=8, description="Longest text read, in tokens.")
    seed: int = Field(0, description="Seed of the random scoring records.")
    threads: int = Field(
        0, ge=0, description="Torch CPU threads (0: the cores other work leaves free)."
    )


def _explainer(settings: ExplainSettings, world: Path) -> Explainer:
    if settings.explainer == "concepts":
        return ConceptExplainer(microworld_concepts(world_seed(world)))
    from valign.interp.llm_explainer import LLMExplainer
    from valign.models import load_model

    simulator = load_model(settings.simulator) if settings.simulator else None
    return LLMExplainer(load_model(settings.explainer), simulator)


def _window(example: Example, max_act: float) -> dict[str, Any]:
    """The tokens around the example's peak, with levels 0..10 for the token view."""
    peak = int(np.argmax(example.acts))
    lo, hi = max(0, peak - WINDOW), min(len(example.acts), peak + WINDOW + 1)
    levels = example.levels(max_act)
    return {
        "id": example.record.id,
        "tokens": example.record.tokens[lo:hi],
        "levels": levels[lo:hi],
    }


def _row(result: NeuronResult, acts: np.ndarray, by_id: dict[str, StoredRecord]) -> dict[str, Any]:
    examples = [Example(by_id[i], acts[by_id[i].rows, result.neuron]) for i in result.top_ids[:3]]
    return {**result.to_dict(), "examples": [_window(e, result.max_act) for e in examples]}


def _write_row(
    writer: RecordWriter, acts: np.ndarray, by_id: dict[str, StoredRecord], result: NeuronResult
) -> None:
    writer.write(_row(result, acts, by_id))


def run_explain(settings: ExplainSettings, out: Path) -> dict[str, Any]:
    """Capture, explain and score; returns the stage summary."""
    world = world_dir(settings.world)
    texts = Path(settings.texts) if settings.texts else world / "corpus.jsonl"
    if not texts.is_file():
        raise UserError(f"input file not found: {texts}")
    chat = open_model(settings.model, settings.threads)

    def work(folder: Path) -> dict[str, Any]:
        sites = parse_sites(settings.sites, chat.model)
        stats = capture(
            chat.model,
            chat.tokenizer,
            read_texts(texts, chat.tokenizer, settings.limit),
            sites,
            folder / "store",
            CaptureConfig(max_tokens=settings.max_tokens),
        )
        store = ActivationStore(folder / "store")
        by_id = {r.id: r for r in store.records}
        explainer = _explainer(settings, world)
        selection = SelectionConfig(settings.n_top, settings.n_random, settings.seed)
        results: list[NeuronResult] = []
        (folder / "neurons.jsonl").unlink(missing_ok=True)
        with RecordWriter(folder / "neurons.jsonl") as writer:
            for site in sites:
                acts = store.load(site.name)  # (tokens, width)
                width = acts.shape[1]
                neurons = range(min(settings.neurons, width) if settings.neurons else width)
                results += explain_site(
                    acts,
                    store.records,
                    site.name,
                    neurons,
                    explainer,
                    selection,
                    on_result=partial(_write_row, writer, acts, by_id),
                )
        return summarise(results, stats.to_dict(), explainer.name)

    return run_job(out, "explain", settings, settings.seed, work)


def summarise(
    results: list[NeuronResult], capture_stats: dict[str, Any], explainer: str
) -> dict[str, Any]:
    """Score distribution, best neurons, and the report section."""
    scores = np.array([r.score for r in results]) if results else np.zeros(0)
    best = sorted(results, key=lambda r: -r.score)[:15]
    by_site: dict[str, list[float]] = {}
    for r in results:
        by_site.setdefault(r.site, []).append(r.score)
    site_rows = [
        [s, len(v), float(np.mean(v)), int(np.sum(np.array(v) >= GOOD_SCORE))]
        for s, v in by_site.items()
    ]
    n_good = int((scores >= GOOD_SCORE).sum())
    return {
        "explainer": explainer,
        "neurons": len(results),
        "mean_score": float(scores.mean()) if len(scores) else 0.0,
        "median_score": float(np.median(scores)) if len(scores) else 0.0,
        "n_score_ge_0_7": n_good,
        "best": [r.to_dict() for r in best],
        "capture": capture_stats,
        "report": section(
            "Interpretability: neuron explanations",
            order=70,
            text=f"{len(results)} neurons explained by the **{explainer}** explainer and scored "
            "by simulation (correlation of simulated with real activations on top-activating "
            f"and random records the explainer never saw). **{n_good}** score >= {GOOD_SCORE}. "
            f"Capture: {capture_stats['tokens']:,} tokens at "
            f"{capture_stats['tokens_per_s']:,.0f} tokens/s.",
            plots=[
                histogram_plot(
                    "Explanation scores",
                    {s: v for s, v in by_site.items()},
                    bins=20,
                    xlabel="correlation score",
                    ylabel="neurons",
                )
            ],
            tables=[
                table(
                    "By site",
                    ["site", "neurons", "mean score", f"score >= {GOOD_SCORE}"],
                    site_rows,
                ),
                table(
                    "Best-explained neurons",
                    ["neuron", "explanation", "score"],
                    [[f"{r.site}/{r.neuron}", r.explanation, r.score] for r in best],
                ),
            ],
        ),
    }


def read_neurons(folder: Path) -> list[dict[str, Any]]:
    path = folder / "neurons.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
