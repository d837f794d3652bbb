"""``valign interp probe``: a linear probe per site for each concept, held-out accuracy.

Writes into ``<out>/probe/``: ``probes.jsonl`` (one line per concept and site),
``directions/<concept>-<site>-<method>.json`` (the difference-of-means and probe
directions, for ``valign interp steer --direction``), ``probes/<concept>-<site>.json``
(the fitted probes), ``manifest.json`` and ``DONE.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from valign.interp.capture import pooled_activations
from valign.interp.common import open_model, run_job, world_dir
from valign.interp.datasets import DATASETS, load_dataset
from valign.interp.directions import mean_difference, probe_direction
from valign.interp.probes import LinearProbe, ProbeResult, probe_sites
from valign.interp.sites import parse_sites
from valign.records.runs import RecordWriter
from valign.report.sections import grouped_bar_plot, section, table


class ProbeSettings(BaseModel):
    """Which concepts to probe for, where."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Model folder or hub id.")
    world: str | None = Field(None, description="Microworld folder (default: built on demand).")
    concepts: tuple[str, ...] = Field(DATASETS, description="Concept datasets to probe for.")
    sites: str = Field("resid.*", description="Sites to probe, e.g. resid.* or resid.1,mlp.2.")
    l2: float = Field(1e-3, ge=0, description="L2 weight decay of the logistic regression.")
    limit: int = Field(0, ge=0, description="At most N texts per split (0: all).")
    seed: int = Field(0, description="Recorded in the manifest (the fit is deterministic).")
    threads: int = Field(
        0, ge=0, description="Torch CPU threads (0: the cores other work leaves free)."
    )


def save_probe(probe: LinearProbe, path: Path) -> None:
    data = {k: np.asarray(v).tolist() for k, v in vars(probe).items()}
    path.write_text(json.dumps(data) + "\n")


def run_probe(settings: ProbeSettings, out: Path) -> dict[str, Any]:
    world = world_dir(settings.world)
    chat = open_model(settings.model, settings.threads)
    datasets = [load_dataset(c, world, chat.tokenizer, settings.limit) for c in settings.concepts]

    def work(folder: Path) -> dict[str, Any]:
        sites = parse_sites(settings.sites, chat.model)
        (folder / "directions").mkdir(exist_ok=True)
        (folder / "probes").mkdir(exist_ok=True)
        (folder / "probes.jsonl").unlink(missing_ok=True)
        table_rows: dict[str, list[ProbeResult]] = {}
        with RecordWriter(folder / "probes.jsonl") as writer:
            for ds in datasets:
                train = pooled_activations(chat.model, chat.tokenizer, ds.train_texts, sites)
                test = pooled_activations(chat.model, chat.tokenizer, ds.test_texts, sites)
                y = np.array(ds.train_labels)
                results = probe_sites(train, y, test, np.array(ds.test_labels), l2=settings.l2)
                table_rows[ds.name] = results
                for r in results:
                    writer.write({"id": f"{ds.name}/{r.site}", "concept": ds.name, **r.to_dict()})
                    stem = f"{ds.name}-{r.site}"
                    save_probe(r.probe, folder / "probes" / f"{stem}.json")
                    pos, neg = train[r.site][y == 1], train[r.site][y == 0]
                    mean_difference(r.site, pos, neg, ds.name).save(
                        folder / "directions" / f"{stem}-mean_difference.json"
                    )
                    probe_direction(r.site, r.probe, pos, neg, ds.name).save(
                        folder / "directions" / f"{stem}-probe.json"
                    )
        return summarise(table_rows, {d.name: (d.positive, d.negative) for d in datasets})

    return run_job(out, "probe", settings, settings.seed, work)


def summarise(
    results: dict[str, list[ProbeResult]], meanings: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    best = {
        c: max(rs, key=lambda r: r.test_balanced_accuracy).to_dict()
        for c, rs in results.items()
        if rs
    }
    sites = [r.site for r in next(iter(results.values()), [])]
    rows = [
        [
            c,
            f"{meanings[c][0]} vs {meanings[c][1]}",
            b["site"],
            b["test_balanced_accuracy"],
            b["n_test"],
        ]
        for c, b in best.items()
    ]
    return {
        "best": best,
        "by_concept": {c: [r.to_dict() for r in rs] for c, rs in results.items()},
        "report": section(
            "Interpretability: probes",
            order=71,
            text="A logistic-regression probe per site and concept, trained on the training "
            "split and scored on held-out templates and entities (balanced accuracy; 50% is "
            "chance).",
            plots=[
                grouped_bar_plot(
                    "Held-out probe accuracy by site",
                    sites,
                    {c: [r.test_balanced_accuracy for r in rs] for c, rs in results.items()},
                    ylabel="balanced accuracy",
                    percent=True,
                    reference=0.5,
                    ylim=(0.0, 1.0),
                )
            ],
            tables=[
                table(
                    "Best site per concept",
                    ["concept", "classes", "best site", "held-out accuracy", "n held out"],
                    rows,
                    percent=["held-out accuracy"],
                )
            ],
        ),
    }
