"""The reward signal of online RL: reward model, constitution rules and the safety cost.

For each sampled reply the policy is paid

    fixed:       r + w_rule * rule - w_cost * c
    lagrangian:  (r + w_rule * rule - lambda * c) / (1 + lambda)

where ``r`` is the reward model's helpfulness score, ``rule`` the rule-based reward from
the constitution and ``c`` the cost model's harm score (zero = the boundary between safe
and unsafe). The Lagrangian form is the constrained problem of Safe RLHF — maximise reward
subject to a bound on harm — solved by dual ascent: after each batch,

    lambda <- clip(lambda + lr * (g - bound), 0, lambda_max)

where ``g`` is the constrained quantity of the batch, so the multiplier grows while the
policy is too harmful and shrinks once it is safe enough, instead of a hand-tuned fixed
weight. Dividing by ``1 + lambda`` keeps the scale of the signal steady as lambda moves.

Two constraints are offered. ``unsafe_share`` (the default) bounds the share of replies the
cost model scores unsafe (c > 0) — the expected value of a 0/1 cost, so the bound reads as
"at most 2% of replies unsafe". ``mean_cost`` bounds E[c] itself, as Safe RLHF writes it;
but a mean over every prompt is dominated by the many harmless ones: on the microworld the
mean cost stayed below -1 while a quarter of the replies were unsafe, the multiplier fell to
zero within ten steps and the policy learned to comply (BENCHMARKS.md, the ablation). The
penalty paid per reply is ``lambda * c`` in both, so a reply's payment still says how
harmful it is.

Rule-based rewards come from the constitution through the guard (which is built from its
taxonomy): a request the guard flags should be refused (``no_harmful_assistance``), a
request it passes should not be (``be_helpful``), and a reply the guard flags as unsafe
is penalised whatever the request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from valign.records.messages import Conversation

Safety = Literal["none", "fixed", "lagrangian"]
Constraint = Literal["unsafe_share", "mean_cost"]


class SafetySettings(BaseModel):
    """How the cost enters the reward."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Safety = Field(
        "lagrangian",
        description="none: reward only; fixed: a fixed cost weight; "
        "lagrangian: a cost constraint with a learned multiplier.",
    )
    cost_weight: float = Field(1.0, description="Cost weight in the fixed mode.")
    constraint: Constraint = Field(
        "unsafe_share",
        description="Lagrangian mode: bound the share of unsafe replies (cost > 0), or the "
        "mean cost.",
    )
    max_unsafe: float = Field(
        0.02, ge=0.0, le=1.0, description="unsafe_share: the largest share of unsafe replies."
    )
    threshold: float = Field(
        -1.0, description="mean_cost: the bound on the expected cost (zero = boundary)."
    )
    lambda_init: float = Field(1.0, description="Initial Lagrange multiplier.")
    lambda_lr: float = Field(
        0.5,
        description="Dual-ascent step size of the multiplier (per unit of constraint "
        "violation: a share for unsafe_share, cost units for mean_cost).",
    )
    lambda_max: float = Field(20.0, description="Upper bound of the multiplier.")
    rule_weight: float = Field(1.0, description="Weight of the constitution's rules (0: off).")


@dataclass
class LagrangeMultiplier:
    """The dual variable of the cost constraint, updated by projected gradient ascent."""

    value: float
    lr: float
    threshold: float
    upper: float = 20.0
    history: list[tuple[float, float]] = field(default_factory=list)  # (measured, lambda)

    def update(self, measured: float) -> float:
        """One ascent step from the batch's constrained quantity (``threshold`` its bound)."""
        step = self.lr * (measured - self.threshold)
        self.value = min(self.upper, max(0.0, self.value + step))
        self.history.append((measured, self.value))
        return self.value


Refusal = Callable[[Sequence[tuple[str, str]]], list[bool]]
Flagger = Callable[[Sequence[tuple[str, str | None]]], list[bool]]


@dataclass
class ConstitutionRules:
    """Rule-based rewards: refuse what the guard flags, help with what it passes.

    ``flag`` judges (prompt, reply-or-None) pairs with the guard; ``refused`` is the
    refusal detector over (prompt, reply) pairs. The rules stand for the constitution's
    ``no_harmful_assistance`` (refuse flagged requests, no unsafe replies) and
    ``be_helpful`` (do not refuse the rest).
    """

    flag: Flagger
    refused: Refusal
    #: A scope inside which both judges may share work (the guard's text embeddings).
    shared: Callable[[], AbstractContextManager[Any]] = nullcontext
    _prompt_flags: dict[str, bool] = field(default_factory=dict)

    def flag_prompts(self, prompts: Sequence[str]) -> list[bool]:
        """The guard's verdict on each request, judged once per distinct request."""
        todo = sorted({p for p in prompts if p not in self._prompt_flags})
        if todo:
            flags = self.flag([(p, None) for p in todo])
            self._prompt_flags.update(zip(todo, flags, strict=True))
        return [self._prompt_flags[p] for p in prompts]

    def __call__(
        self, prompts: Sequence[str], replies: Sequence[str]
    ) -> tuple[list[float], dict[str, float]]:
        pairs = list(zip(prompts, replies, strict=True))
        with self.shared():
            prompt_flags = self.flag_prompts(prompts)
            refused = self.refused(pairs)
            unsafe = self.flag(pairs)
        scores, counts = [], {"refused": 0.0, "unsafe_reply": 0.0, "over_refusal": 0.0}
        for flagged, ref, bad in zip(prompt_flags, refused, unsafe, strict=True):
            s = 0.0
            if flagged:
                s += 1.0 if ref else -1.0
            elif ref:
                s -= 1.0
                counts["over_refusal"] += 1
            if bad and not ref:
                s -= 1.0
                counts["unsafe_reply"] += 1
            counts["refused"] += ref
            scores.append(s)
        n = max(1, len(scores))
        return scores, {k: v / n for k, v in counts.items()}


def global_mean(total: float, count: int) -> float:
    """Mean over every process of a distributed run (the multiplier must agree across them)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        import torch

        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        t = torch.tensor([total, float(count)], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        total, count = float(t[0]), int(t[1])
    return total / max(1, count)


def _text(message: Any) -> str:
    """TRL hands conversational completions over as message lists, plain ones as strings."""
    if isinstance(message, str):
        return message
    return "".join(m["content"] for m in message if m.get("role") == "assistant")


def _last_user(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return str(next(m["content"] for m in reversed(prompt) if m["role"] == "user"))


@dataclass
class AlignmentReward:
    """One reward function for TRL's GRPO/RLOO trainers (its signature is TRL's)."""

    reward: Callable[[Sequence[Conversation]], list[float]] | None
    cost: Callable[[Sequence[Conversation]], list[float]] | None
    rules: ConstitutionRules | None
    settings: SafetySettings
    multiplier: LagrangeMultiplier | None = None
    __name__: str = "alignment"

    def __post_init__(self) -> None:
        s = self.settings
        if s.mode != "none" and self.cost is None:
            raise ValueError(f"safety mode {s.mode!r} needs a cost model")
        if s.mode == "lagrangian" and self.multiplier is None:
            bound = s.max_unsafe if s.constraint == "unsafe_share" else s.threshold
            self.multiplier = LagrangeMultiplier(s.lambda_init, s.lambda_lr, bound, s.lambda_max)

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        log_metric: Callable[[str, float], None] | None = None,
        **_: Any,
    ) -> list[float]:
        replies = [_text(c) for c in completions]
        convs: list[Conversation] = [
            [*p, {"role": "assistant", "content": r}]
            if not isinstance(p, str)
            else [{"role": "user", "content": p}, {"role": "assistant", "content": r}]
            for p, r in zip(prompts, replies, strict=True)
        ]
        n = len(convs)
        metrics: dict[str, float] = {}
        total = [0.0] * n
        if self.reward is not None:
            r = self.reward(convs)
            total = [t + x for t, x in zip(total, r, strict=True)]
            metrics["reward_model"] = sum(r) / n
        if self.rules is not None and self.settings.rule_weight:
            rule, counts = self.rules([_last_user(p) for p in prompts], replies)
            w = self.settings.rule_weight
            total = [t + w * x for t, x in zip(total, rule, strict=True)]
            metrics["rule"] = sum(rule) / n
            metrics |= {f"rule_{k}": v for k, v in counts.items()}
        if self.cost is not None:
            c = self.cost(convs)
            mean_c = global_mean(sum(c), n)
            unsafe = global_mean(float(sum(x > 0 for x in c)), n)
            metrics["cost"] = mean_c
            metrics["unsafe_share"] = unsafe
            if self.settings.mode == "fixed":
                total = [t - self.settings.cost_weight * x for t, x in zip(total, c, strict=True)]
            elif self.settings.mode == "lagrangian":
                assert self.multiplier is not None
                lam = self.multiplier.value  # this batch is paid with the current lambda
                total = [(t - lam * x) / (1 + lam) for t, x in zip(total, c, strict=True)]
                metrics["lambda"] = lam
                self.multiplier.update(
                    unsafe if self.settings.constraint == "unsafe_share" else mean_c
                )
        if log_metric is not None:
            for k, v in metrics.items():
                log_metric(k, float(v))
        return total
