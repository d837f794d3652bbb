"""Critique → revision: the supervised phase of Constitutional AI, for any chat model.

For each (conversation, response) the loop runs ``n_revisions`` steps. Each step draws a
principle (seeded, among those the caller allows), asks the model to critique its response
with the principle's ``critique_request``, then to rewrite it with the
``revision_request``; the rewrite is the response of the next step. Few-shot
demonstrations built from the principle's labelled examples (a violating response, its
critique from the example's note, the following response as the revision) come first, so
a model that has never seen the format can imitate it. Every step is batched over the
whole set: one generation call for the critiques, one for the revisions.

The final revision, with the original conversation, is one supervised fine-tuning
example. When a ``scorer`` (the evaluator's pointwise score) is given, the step keeps the
revision only when it scores better than the current response; with
``candidates`` (extra samples of the policy) it picks the best of all of them — best-of-n
under the evaluator, which is what makes the loop useful with a model too small to
revise (see docs/cai.md for what the microworld's model does).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from valign.cai.judge import seeded_principle
from valign.models import ChatModel, GenerationConfig
from valign.records.messages import Conversation
from valign.values import Constitution, Principle

Scorer = Callable[[Sequence[Conversation], Sequence[str]], list[float]]


class CritiqueSettings(BaseModel):
    """How many revisions, with what examples, sampled how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_revisions: int = Field(2, ge=0, description="Critique-revision steps per response.")
    few_shot: int = Field(1, ge=0, description="Demonstrations from the constitution per step.")
    max_new_tokens: int = Field(96, description="Longest critique or revision, in tokens.")
    temperature: float = Field(0.0, ge=0.0, description="Sampling temperature (0: greedy).")
    batch_size: int = Field(32, description="Conversations per generation batch.")
    seed: int = Field(0, description="Seeds the principle drawn at each step and sampling.")


@dataclass
class Step:
    """One critique-revision step."""

    principle: str
    critique: str
    revision: str
    kept: bool  # the revision replaced the response (always, without a scorer)
    score: float | None = None


@dataclass
class Trace:
    """A response's path from the original to the final revision."""

    conversation: Conversation
    original: str
    final: str
    steps: list[Step] = field(default_factory=list)
    chosen_from: str = "revision"  # revision | original | candidate

    def sft_example(self) -> dict[str, object]:
        """The final response as a demonstration in the SFT file format."""
        return {"messages": [*self.conversation, {"role": "assistant", "content": self.final}]}


def demonstrations(principle: Principle, n: int) -> list[dict[str, str]]:
    """Up to ``n`` worked critique-revision exchanges from the principle's examples."""
    turns: list[dict[str, str]] = []
    by_prompt: dict[str, dict[str, tuple[str, str]]] = {}
    for ex in principle.examples:
        by_prompt.setdefault(ex.prompt, {}).setdefault(ex.verdict, (ex.response, ex.note))
    for prompt, verdicts in by_prompt.items():
        if len(turns) >= 6 * n:
            break
        if not {"follows", "violates"} <= verdicts.keys():
            continue
        bad, note = verdicts["violates"]
        good, _ = verdicts["follows"]
        critique = note or f"The response does not follow the principle: {principle.text}"
        turns += [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": bad},
            {"role": "user", "content": principle.critique_request},
            {"role": "assistant", "content": critique},
            {"role": "user", "content": principle.revision_request},
            {"role": "assistant", "content": good},
        ]
    return turns


def critique_revise(
    model: ChatModel,
    constitution: Constitution,
    conversations: Sequence[Conversation],
    responses: Sequence[str],
    settings: CritiqueSettings | None = None,
    principles: Sequence[Sequence[str]] | None = None,
    scorer: Scorer | None = None,
    candidates: Sequence[Sequence[str]] | None = None,
) -> list[Trace]:
    """Revise every response; see the module docstring. Returns one trace per input.

    ``principles[i]`` are the ids allowed for conversation ``i`` (empty: any);
    ``candidates[i]`` are extra responses considered at the end when ``scorer`` is given.
    """
    s = settings or CritiqueSettings()
    if len(conversations) != len(responses):
        raise ValueError(f"{len(conversations)} conversations but {len(responses)} responses")
    allowed = principles or [()] * len(conversations)
    traces = [Trace(list(c), r, r) for c, r in zip(conversations, responses, strict=True)]
    config = GenerationConfig(
        max_new_tokens=s.max_new_tokens,
        temperature=s.temperature,
        batch_size=s.batch_size,
        seed=s.seed,
    )
    for step in range(s.n_revisions):
        drawn = [
            seeded_principle(constitution, allowed[i], f"{s.seed}:{step}:{i}:{t.original}")
            for i, t in enumerate(traces)
        ]
        base = [
            [
                *demonstrations(p, s.few_shot),
                *t.conversation,
                {"role": "assistant", "content": t.final},
            ]
            for p, t in zip(drawn, traces, strict=True)
        ]
        asks: list[Conversation] = [
            [*b, {"role": "user", "content": p.critique_request}]  # type: ignore[list-item]
            for b, p in zip(base, drawn, strict=True)
        ]
        critiques = [c.strip() for c in model.generate(asks, config)]
        revise: list[Conversation] = [
            [
                *a,
                {"role": "assistant", "content": c},
                {"role": "user", "content": p.revision_request},
            ]
            for a, c, p in zip(asks, critiques, drawn, strict=True)
        ]
        revisions = [r.strip() for r in model.generate(revise, config)]
        _accept(traces, drawn, critiques, revisions, scorer)
    if scorer is not None and candidates is not None:
        _best_of(traces, candidates, scorer)
    return traces


def _accept(
    traces: list[Trace],
    drawn: list[Principle],
    critiques: list[str],
    revisions: list[str],
    scorer: Scorer | None,
) -> None:
    """Record the step; with a scorer keep the revision only if it scores better."""
    keep = [bool(r) for r in revisions]
    scores: list[float | None] = [None] * len(traces)
    if scorer is not None:
        convs = [t.conversation for t in traces]
        new = scorer(convs, [r or t.final for r, t in zip(revisions, traces, strict=True)])
        old = scorer(convs, [t.final for t in traces])
        keep = [k and n > o for k, n, o in zip(keep, new, old, strict=True)]
        scores = [max(n, o) for n, o in zip(new, old, strict=True)]
    for t, p, c, r, k, sc in zip(traces, drawn, critiques, revisions, keep, scores, strict=True):
        t.steps.append(Step(p.id, c, r, k, sc))
        if k:
            t.final = r
            t.chosen_from = "revision"
        elif not any(x.kept for x in t.steps):
            t.chosen_from = "original"


def pick_best(
    scorer: Scorer, convs: Sequence[Conversation], candidates: Sequence[Sequence[str]]
) -> list[int]:
    """Index of the best-scoring candidate for each conversation (ties: the first)."""
    flat_convs = [c for c, cands in zip(convs, candidates, strict=True) for _ in cands]
    flat = [x for cands in candidates for x in cands]
    scores = scorer(flat_convs, flat) if flat else []
    out, k = [], 0
    for cands in candidates:
        mine = scores[k : k + len(cands)]
        out.append(max(range(len(mine)), key=mine.__getitem__) if mine else -1)
        k += len(cands)
    return out


def _best_of(traces: list[Trace], candidates: Sequence[Sequence[str]], scorer: Scorer) -> None:
    """Replace each final response by the best-scoring candidate when that scores higher."""
    pools = [[t.final, *c] for t, c in zip(traces, candidates, strict=True)]
    best = pick_best(scorer, [t.conversation for t in traces], pools)
    for t, pool, k in zip(traces, pools, best, strict=True):
        if k > 0 and pool[k] != t.final:
            t.final = pool[k]
            t.chosen_from = "candidate"


def write_traces(path: Path, traces: Sequence[Trace]) -> int:
    """Traces as JSONL (every step kept, for audit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for t in traces:
            fh.write(json.dumps(asdict(t)) + "\n")
    return len(traces)


def write_sft(path: Path, traces: Sequence[Trace]) -> int:
    """The final responses as an SFT demonstration file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for t in traces:
            if t.final.strip():
                fh.write(json.dumps(t.sft_example()) + "\n")
                n += 1
    return n
