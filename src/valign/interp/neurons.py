"""Automated neuron explanation over an activation store: pick records, explain, simulate, score.

For each neuron (one column of an ``mlp.N`` site, or of any site):

1. rank records by the neuron's largest activation in them; the top ``2 * n_top`` are
   split alternately into an *explanation* set and a *top scoring* set, and ``n_random``
   other records are drawn at random (seeded) as the *random scoring* set;
2. the explainer reads the explanation set, its activations discretised 0..10 relative to
   the neuron's maximum, and writes an explanation;
3. the simulator predicts every token's activation in the scoring sets from the
   explanation alone;
4. the score is the correlation between simulated and real activations over the scoring
   sets (:mod:`valign.interp.scoring`).

The explainer never sees a scoring record, so a high score is a prediction, not a recall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from valign.interp.scoring import discretise, score_simulation
from valign.interp.store import StoredRecord


@dataclass(frozen=True)
class Example:
    """One record with one neuron's real activations on its tokens, ``(n_tokens,)``."""

    record: StoredRecord
    acts: np.ndarray

    def levels(self, max_act: float) -> list[int]:
        return [int(x) for x in discretise(self.acts, max_act)]


class Explainer(Protocol):
    """Writes an explanation from top-activating examples, and simulates from one."""

    name: str

    def explain(self, examples: Sequence[Example], max_act: float) -> str: ...

    def simulate(self, explanation: str, records: Sequence[StoredRecord]) -> list[np.ndarray]:
        """Predicted activation (0..10) of every token of every record."""
        ...


@dataclass(frozen=True)
class SelectionConfig:
    """Which records explain and which score a neuron.

    Attributes:
        n_top: Top-activating records for the explanation, and as many more for scoring.
        n_random: Random records added to the scoring set.
        seed: Seed of the random draw.
    """

    n_top: int = 10
    n_random: int = 10
    seed: int = 0


@dataclass(frozen=True)
class NeuronResult:
    """One neuron's explanation and its score."""

    site: str
    neuron: int
    explanation: str
    score: float
    max_act: float
    top_ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": f"{self.site}/{self.neuron}",
            "site": self.site,
            "neuron": self.neuron,
            "explanation": self.explanation,
            "score": round(self.score, 4),
            "max_act": round(self.max_act, 4),
            "top_ids": self.top_ids,
        }


def record_maxima(acts: np.ndarray, records: Sequence[StoredRecord]) -> np.ndarray:
    """``(n_records, width)``: each record's largest activation per neuron."""
    starts = np.array([r.row for r in records])
    return np.maximum.reduceat(acts, starts, axis=0)


def select(
    maxima: np.ndarray, neuron: int, config: SelectionConfig
) -> tuple[list[int], list[int], list[int]]:
    """Record indices: (explanation set, top scoring set, random scoring set)."""
    order = np.argsort(-maxima[:, neuron], kind="stable")
    top = [int(i) for i in order[: 2 * config.n_top]]
    rest = np.array(sorted(set(range(len(maxima))) - set(top)))
    rng = np.random.default_rng([config.seed, neuron])
    k = min(config.n_random, len(rest))
    rand = [int(i) for i in rng.choice(rest, size=k, replace=False)] if k else []
    return top[0::2], top[1::2], rand


def explain_neuron(
    acts: np.ndarray,
    records: Sequence[StoredRecord],
    maxima: np.ndarray,
    site: str,
    neuron: int,
    explainer: Explainer,
    config: SelectionConfig,
) -> NeuronResult:
    """Explain one neuron and score the explanation (see the module docstring)."""

    def example(i: int) -> Example:
        return Example(records[i], acts[records[i].rows, neuron])

    explain_ids, top_ids, random_ids = select(maxima, neuron, config)
    explain_set = [example(i) for i in explain_ids]
    max_act = float(max((e.acts.max() for e in explain_set), default=0.0))
    explanation = explainer.explain(explain_set, max_act)
    scoring = [example(i) for i in top_ids + random_ids]
    simulated = explainer.simulate(explanation, [e.record for e in scoring])
    score = score_simulation(simulated, [e.acts for e in scoring])
    return NeuronResult(
        site, neuron, explanation, score, max_act, [records[i].id for i in explain_ids]
    )


def explain_site(
    acts: np.ndarray,
    records: Sequence[StoredRecord],
    site: str,
    neurons: Sequence[int],
    explainer: Explainer,
    config: SelectionConfig = SelectionConfig(),
    on_result: Callable[[NeuronResult], None] | None = None,
) -> list[NeuronResult]:
    """Explain ``neurons`` of one site; ``acts`` is the site's ``(total_tokens, width)``."""
    maxima = record_maxima(acts, records)
    results = []
    for n in neurons:
        result = explain_neuron(acts, records, maxima, site, n, explainer, config)
        results.append(result)
        if on_result:
            on_result(result)
    return results
