"""An explainer and simulator backed by any chat model (local HF folder, hub id, endpoint).

Prompts follow Bills et al. (2023): the explainer sees ``token<TAB>activation`` lines for
each top-activating record (activations 0..10), then the same lines with the zeros
removed, and completes "the main thing this neuron does is find ..."; the simulator sees
only that explanation and the record's tokens marked ``unknown`` and fills in a number per
token. The paper reads the simulator's probabilities over 0..10 in one pass; a generic
chat API only returns text, so here the simulator writes the numbers and a token whose
line is missing or unreadable counts as 0 (an honest penalty, not a guess).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from valign.interp.neurons import Example
from valign.interp.scoring import MAX_LEVEL
from valign.interp.store import StoredRecord
from valign.models.types import ChatModel, GenerationConfig
from valign.records.messages import Conversation

EXPLAINER_SYSTEM = (
    "We're studying neurons in a neural network. Each neuron looks for some particular thing "
    "in a short document. Look at the parts of the document the neuron activates for and "
    "summarize in a single sentence what the neuron is looking for. Don't list examples of "
    "words.\n\nThe activation format is token<tab>activation. Activation values range from 0 "
    "to 10. A neuron finding what it's looking for is represented by a non-zero activation "
    "value. The higher the activation value, the stronger the match."
)
SIMULATOR_SYSTEM = (
    "We're studying neurons in a neural network. Each neuron looks for some particular thing "
    "in a short document. Look at an explanation of what the neuron does, and try to predict "
    "its activations on each token.\n\nThe activation format is token<tab>activation, "
    'activations go from 0 to 10, "unknown" indicates an unknown activation. Most '
    "activations will be 0."
)
LEAD = "the main thing this neuron does is find"
_LINE = re.compile(r"\t\s*(\d+(?:\.\d+)?)\s*$")


def _show(token: str) -> str:
    """Tokens on one line each: newlines and tabs inside a token are written escaped."""
    return token.replace("\n", "\\n").replace("\t", "\\t")


def _block(tokens: Sequence[str], values: Sequence[str]) -> str:
    lines = "\n".join(f"{_show(t)}\t{v}" for t, v in zip(tokens, values, strict=True))
    return f"<start>\n{lines}\n<end>"


def explainer_prompt(examples: Sequence[Example], max_act: float) -> Conversation:
    shown, nonzero = [], []
    for e in examples:
        levels = e.levels(max_act)
        shown.append(_block(e.record.tokens, [str(x) for x in levels]))
        keep = [i for i, x in enumerate(levels) if x > 0]
        nonzero.append(_block([e.record.tokens[i] for i in keep], [str(levels[i]) for i in keep]))
    user = (
        "Neuron 1\nActivations:\n"
        + "\n".join(shown)
        + "\nSame activations, but with all zeros filtered out:\n"
        + "\n".join(nonzero)
        + f"\n\nComplete the sentence in a few words.\nExplanation of neuron 1 behavior: {LEAD}"
    )
    return [{"role": "system", "content": EXPLAINER_SYSTEM}, {"role": "user", "content": user}]


def simulator_prompt(explanation: str, record: StoredRecord) -> Conversation:
    user = (
        f"Neuron 1\nExplanation of neuron 1 behavior: {LEAD} {explanation}\n"
        "Activations:\n"
        + _block(record.tokens, ["unknown"] * record.n_tokens)
        + "\n\nReply with the same lines between <start> and <end>, each token followed by a "
        "tab and its activation (an integer from 0 to 10)."
    )
    return [{"role": "system", "content": SIMULATOR_SYSTEM}, {"role": "user", "content": user}]


def parse_explanation(reply: str) -> str:
    """First non-empty line, without a repeated lead-in or surrounding quotes."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    if line.lower().startswith(LEAD):
        line = line[len(LEAD) :].strip()
    return line.strip("\"' ").rstrip(".") or "(no explanation)"


def parse_simulation(reply: str, n_tokens: int) -> np.ndarray:
    """The ``n_tokens`` numbers of a ``token<TAB>number`` reply, in order; missing -> 0."""
    values = []
    for line in reply.splitlines():
        m = _LINE.search(line)
        if m:
            values.append(min(float(m.group(1)), MAX_LEVEL))
    out = np.zeros(n_tokens)
    out[: min(n_tokens, len(values))] = values[:n_tokens]
    return out


class LLMExplainer:
    """Explain with ``explainer`` and simulate with ``simulator`` (the same model by default)."""

    def __init__(
        self,
        explainer: ChatModel,
        simulator: ChatModel | None = None,
        generation: GenerationConfig | None = None,
    ) -> None:
        self.explainer = explainer
        self.simulator = simulator or explainer
        self.name = f"llm:{explainer.name}"
        self.generation = generation or GenerationConfig(max_new_tokens=64, batch_size=8)

    def explain(self, examples: Sequence[Example], max_act: float) -> str:
        reply = self.explainer.generate([explainer_prompt(examples, max_act)], self.generation)[0]
        return parse_explanation(reply)

    def simulate(self, explanation: str, records: Sequence[StoredRecord]) -> list[np.ndarray]:
        longest = max((r.n_tokens for r in records), default=1)
        config = GenerationConfig(
            max_new_tokens=8 * longest + 16, batch_size=self.generation.batch_size
        )
        replies = self.simulator.generate(
            [simulator_prompt(explanation, r) for r in records], config
        )
        return [
            parse_simulation(text, r.n_tokens) for text, r in zip(replies, records, strict=True)
        ]
