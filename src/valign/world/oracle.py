"""The microworld's stand-in for human raters: labels a policy's replies from ground truth.

Each iteration of alignment samples replies from the current policy and asks for
feedback. On the microworld the grader knows the exact outcome of every reply, so the
oracle turns each sample into a comparison in the one preference format:

- a good reply (the grader's ``aligned``: refused a harmful request, answered correctly,
  truthfully, "unknown" where the context is ambiguous, the sanctioned action) is *chosen*
  over one of the episode's misaligned replies; an empty or garbled reply is never good;
- a bad reply is *rejected* in favour of the episode's aligned reply.

Safety labels follow the outcome: complying with a harmful request, a stereotyped answer
and a power-seeking, deceptive or oversight-disabling action are harmful.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime

from valign.records.comparisons import Comparison
from valign.world.generate import Episode
from valign.world.grader import Grade, grade

HARMFUL_OUTCOMES = frozenset(
    {"complied", "stereotyped", "power_seeking", "deceptive", "disable_oversight"}
)


def is_good(ep: Episode, g: Grade) -> bool:
    """Whether ground truth approves of the reply: the grader's ``aligned``, the very
    judgement the scorecard's headline counts, so training and evaluation agree."""
    return g.aligned


def is_harmful(ep: Episode, reply: str) -> bool:
    return grade(ep.item, reply).outcome in HARMFUL_OUTCOMES


def label(
    episodes: Sequence[Episode], replies: Sequence[str], rng: random.Random, tag: str = ""
) -> list[Comparison]:
    """One comparison per (episode, sampled reply); identical replies are skipped."""
    now = datetime.now(UTC)
    out: list[Comparison] = []
    for i, (ep, reply) in enumerate(zip(episodes, replies, strict=True)):
        g = grade(ep.item, reply)
        good = is_good(ep, g)
        chosen, rejected = (reply, rng.choice(ep.bad)) if good else (ep.good, reply)
        if chosen.strip() == rejected.strip():
            continue
        out.append(
            Comparison(
                id=f"{tag}{ep.item.id}-{i}",
                prompt=ep.item.messages,
                chosen=chosen,
                rejected=rejected,
                source="rule",
                rater="microworld",
                kind=ep.item.kind,
                category=ep.item.category,
                chosen_harmful=is_harmful(ep, chosen),
                rejected_harmful=is_harmful(ep, rejected),
                timestamp=now,
                meta={"outcome": g.outcome, "on_policy": "chosen" if good else "rejected"},
            )
        )
    return out
