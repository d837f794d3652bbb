"""An explainer for worlds with labelled concepts and no strong explainer model.

Explanation = the concept whose token membership correlates best with the neuron's
activations on the explanation set. Simulation = 10 on the concept's tokens, 0 elsewhere.
Scored like any other explanation (on records the explainer did not see), so the score
says how much of the neuron a single labelled concept accounts for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from valign.interp.concepts import Concept, concept_masks
from valign.interp.neurons import Example
from valign.interp.scoring import MAX_LEVEL, correlation
from valign.interp.store import StoredRecord

NO_CONCEPT = "(no concept fits)"


class ConceptExplainer:
    """Chooses among ``concepts``; their masks are cached per record."""

    name = "concepts"

    def __init__(self, concepts: Sequence[Concept]) -> None:
        self.concepts = list(concepts)
        self.by_name = {c.name: i for i, c in enumerate(self.concepts)}
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def masks(self, record: StoredRecord) -> np.ndarray:
        """``(n_concepts, n_tokens)`` bool, computed once per record."""
        key = (record.id, record.row)
        if key not in self._cache:
            self._cache[key] = concept_masks(self.concepts, record.text, record.offsets)
        return self._cache[key]

    def explain(self, examples: Sequence[Example], max_act: float) -> str:
        if not examples:
            return NO_CONCEPT
        masks = np.concatenate([self.masks(e.record) for e in examples], axis=1)
        acts = np.concatenate([e.acts for e in examples])
        scores = [correlation(m, acts) for m in masks]
        best = int(np.argmax(scores))
        return self.concepts[best].name if scores[best] > 0 else NO_CONCEPT

    def simulate(self, explanation: str, records: Sequence[StoredRecord]) -> list[np.ndarray]:
        i = self.by_name.get(explanation)
        if i is None:
            return [np.zeros(r.n_tokens) for r in records]
        return [self.masks(r)[i].astype(np.float64) * MAX_LEVEL for r in records]
