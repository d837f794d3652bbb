"""Rephrasings: the same goal asked in the past tense, the future tense, or reworded.

Refusal training generalises poorly across tenses and wordings (Andriushchenko and
Flammarion 2024). The rephrasings are templates over the objective's verb phrase
(``data/rephrase.yaml``), so they are deterministic and need no model.
"""

from __future__ import annotations

from valign.redteam.attacks.templates import register_template_families

register_template_families("rephrase.yaml", "rephrase")
