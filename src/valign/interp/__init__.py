"""valign.interp: look inside a model, explain its neurons, find and steer directions.

- sites and capture: :func:`parse_sites`, :func:`recording` (one batch, in memory),
  :func:`capture` (any number of texts, streamed to a sharded :class:`ActivationStore`),
  :func:`pooled_activations` (one vector per text);
- neuron explanation scored by simulation: :func:`explain_site` with a
  :class:`ConceptExplainer` (labelled concepts) or an :class:`LLMExplainer` (any chat model);
- probes and directions: :func:`fit_probe`, :func:`probe_sites`, :func:`mean_difference`,
  :func:`probe_direction`;
- steering: :func:`steering` with :class:`Steer` (and an optional :class:`Gate`), and the
  scorecard over a strength sweep, :func:`sweep`.

The commands are ``valign interp explain|probe|steer`` (see docs/interp.md).
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.interp.capture import CaptureConfig, capture, pooled_activations, recording
    from valign.interp.concept_explainer import ConceptExplainer
    from valign.interp.concepts import Concept, microworld_concepts
    from valign.interp.directions import Direction, mean_difference, probe_direction
    from valign.interp.llm_explainer import LLMExplainer
    from valign.interp.neurons import Explainer, NeuronResult, SelectionConfig, explain_site
    from valign.interp.probes import LinearProbe, fit_probe, probe_sites
    from valign.interp.scoring import correlation, discretise, score_simulation
    from valign.interp.sites import Site, parse_site, parse_sites
    from valign.interp.steering import Gate, Steer, probe_gate, steering
    from valign.interp.store import ActivationStore
    from valign.interp.sweep import SweepConfig, sweep

__all__ = [
    "ActivationStore",
    "CaptureConfig",
    "Concept",
    "ConceptExplainer",
    "Direction",
    "Explainer",
    "Gate",
    "LLMExplainer",
    "LinearProbe",
    "NeuronResult",
    "SelectionConfig",
    "Site",
    "Steer",
    "SweepConfig",
    "capture",
    "correlation",
    "discretise",
    "explain_site",
    "fit_probe",
    "mean_difference",
    "microworld_concepts",
    "parse_site",
    "parse_sites",
    "pooled_activations",
    "probe_direction",
    "probe_gate",
    "probe_sites",
    "recording",
    "score_simulation",
    "steering",
    "sweep",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "capture": ["CaptureConfig", "capture", "pooled_activations", "recording"],
            "concept_explainer": ["ConceptExplainer"],
            "concepts": ["Concept", "microworld_concepts"],
            "directions": ["Direction", "mean_difference", "probe_direction"],
            "llm_explainer": ["LLMExplainer"],
            "neurons": ["Explainer", "NeuronResult", "SelectionConfig", "explain_site"],
            "probes": ["LinearProbe", "fit_probe", "probe_sites"],
            "scoring": ["correlation", "discretise", "score_simulation"],
            "sites": ["Site", "parse_site", "parse_sites"],
            "steering": ["Gate", "Steer", "probe_gate", "steering"],
            "store": ["ActivationStore"],
            "sweep": ["SweepConfig", "sweep"],
        },
    )
