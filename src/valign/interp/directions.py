"""Directions in a site's activation space that stand for a concept.

Two estimators, both from activations of positive and negative examples ``(n, d)``:

* **difference of means** (Marks & Tegmark 2023; Arditi et al. 2024): the vector between
  the class means; robust, needs no fitting;
* **probe direction**: the normal of a fitted linear probe's decision boundary, mapped back
  to raw activation space.

A direction is stored as a unit vector plus a *scale*: the distance between the class means
along it. Steering strength is measured in that scale, so strength 1 moves an activation by
as much as going from the negative class's mean to the positive class's, whatever the
estimator or the layer's norm.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from valign.errors import UserError
from valign.interp.probes import LinearProbe


@dataclass(frozen=True)
class Direction:
    """A unit vector at a site, with its natural scale."""

    site: str
    unit: np.ndarray  # (d,), norm 1
    scale: float  # mean(pos . unit) - mean(neg . unit)
    method: str  # "mean_difference" or "probe"
    concept: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "unit": [float(x) for x in self.unit],
            "scale": self.scale,
            "method": self.method,
            "concept": self.concept,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Direction:
        return cls(
            data["site"],
            np.asarray(data["unit"], dtype=np.float64),
            float(data["scale"]),
            data["method"],
            data.get("concept", ""),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict()) + "\n")

    @classmethod
    def load(cls, path: Path) -> Direction:
        if not path.is_file():
            raise UserError(f"direction file not found: {path}")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError(f"{path}: not a direction file ({exc})") from None


def _scaled(unit: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, float]:
    scale = float(pos.mean(0) @ unit - neg.mean(0) @ unit)
    if scale < 0:  # orient the direction from the negative class to the positive one
        unit, scale = -unit, -scale
    return unit, scale


def mean_difference(site: str, pos: np.ndarray, neg: np.ndarray, concept: str = "") -> Direction:
    """The direction from the negative class mean to the positive class mean."""
    diff = pos.mean(0) - neg.mean(0)
    norm = float(np.linalg.norm(diff))
    if norm == 0:
        raise ValueError("the class means coincide: no direction")
    unit, scale = _scaled(diff / norm, pos, neg)
    return Direction(site, unit, scale, "mean_difference", concept)


def probe_direction(
    site: str, probe: LinearProbe, pos: np.ndarray, neg: np.ndarray, concept: str = ""
) -> Direction:
    """The probe's normal, scaled by the class-mean distance along it."""
    unit, scale = _scaled(probe.direction(), pos, neg)
    return Direction(site, unit, scale, "probe", concept)
