"""The campaign runner: every attack on every objective, batched, scored, resumable.

A campaign is a sequence of named phases:

1. **plan** — objectives and attacks resolved; every attack builds its attempts
   (deterministic for the seed); attempts already in ``findings.jsonl`` are skipped;
2. **attack** — pending attempts go to the target in chunks; each round of a chunk is one
   batched ``generate`` call across all attacks and objectives (a local model runs it in
   padded batches, an endpoint as concurrent requests); replies are scored in batches;
   adaptive attacks refine the attempts that did not succeed, up to ``max_rounds``;
   each attempt is appended to ``findings.jsonl`` the moment it finishes;
3. **controls** — borderline-safe requests, to measure over-refusal (``controls.jsonl``);
4. **summarise** — ``summary.json`` (attack success per category x attack with Wilson
   intervals, detector precision and recall, over-refusal, throughput).

Resuming after a kill: an attempt's record is written once, when it finishes, and the plan
skips ids already written; the records of a crashed write are repaired by
:class:`~valign.report.RecordWriter`. So no attempt is lost or repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console

from valign.errors import UserError
from valign.models.types import ChatModel, GenerationConfig
from valign.records.messages import Conversation
from valign.records.runs import (
    RecordWriter,
    atomic_write_json,
    completed_ids,
    config_hash,
    manifest,
    read_records,
)
from valign.redteam.objectives import MICROWORLD, load_objectives
from valign.redteam.registry import resolve_attacks
from valign.redteam.scoring import DEFAULT_DETECTORS, Score, Scorer
from valign.redteam.types import AdaptiveAttack, Attack, AttackContext, Attempt, Objective

FINDINGS = "findings.jsonl"
CONTROLS = "controls.jsonl"
SUMMARY = "summary.json"
#: The campaign's own manifest (settings hash checked on resume); not ``manifest.json``,
#: which the pipeline writes into a stage folder for the stage as a whole.
MANIFEST = "campaign.json"

OnRecord = Callable[[dict[str, Any]], None]


class CampaignConfig(BaseModel):
    """Settings of one red-team campaign (``valign redteam``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field("", description="Target: a model folder, a hub id or an endpoint URL.")
    attacks: tuple[str, ...] = Field(
        ("default",), description="Attack names or families; 'default' or 'all'."
    )
    objectives: str = Field(
        MICROWORLD, description="'microworld', 'constitution[:NAME]' or a JSONL file."
    )
    per_intent: int = Field(2, ge=1, description="Microworld objectives per harmful intent.")
    variants: int = Field(2, ge=1, description="Attempts per objective and attack.")
    max_rounds: int = Field(3, ge=1, description="Most rounds of an adaptive attempt.")
    detectors: tuple[str, ...] = Field(DEFAULT_DETECTORS, description="Success detectors.")
    guard: str = Field("default", description="Guard used by the 'guard' detector.")
    judge: str | None = Field(None, description="LLM judge model (enables the judge detector).")
    attacker: str = Field("mutate", description="Red-team model spec, or 'mutate' (built in).")
    controls: int = Field(1, ge=0, description="Borderline-safe controls per intent (0: none).")
    seed: int = Field(0, description="Seeds objectives, attack choices and sampling.")
    batch_size: int = Field(64, ge=1, description="Conversations per batch on a local model.")
    max_new_tokens: int = Field(64, ge=1, description="Longest reply of the target.")
    concurrency: int = Field(8, ge=1, description="Requests in flight against an endpoint.")
    chunk: int = Field(
        512,
        ge=1,
        description="Attempts per chunk (all rounds of a chunk run "
        "before the next; a kill loses at most one chunk's unfinished work).",
    )
    limit: int = Field(0, ge=0, description="Run only the first N planned attempts (0: all).")


def plan(
    cfg: CampaignConfig, ctx: AttackContext
) -> tuple[list[Objective], list[Attack], list[Attempt]]:
    """Objectives, attacks and every attempt of the campaign, in a stable order."""
    objectives = load_objectives(cfg.objectives, cfg.seed, cfg.per_intent)
    attacks = resolve_attacks(cfg.attacks)
    attempts: list[Attempt] = []
    for attack in attacks:
        cats = set(attack.meta.categories)
        mine = [o for o in objectives if not cats or o.category in cats]
        attempts += attack.build(mine, ctx)
    ids = [a.id for a in attempts]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise UserError(f"two attempts share the id {dup!r}: attack ids must be unique")
    if cfg.limit:
        attempts = attempts[: cfg.limit]
    return objectives, attacks, attempts


def finding(attempt: Attempt, response: str, score: Score, seconds: float) -> dict[str, Any]:
    """One record of ``findings.jsonl``: the attempt, every round, the verdicts."""
    rounds = [
        {"prompt": list(r.conversation), "response": r.response, "score": round(r.score, 6)}
        for r in attempt.rounds
    ]
    rounds.append({"prompt": attempt.messages(), "response": response, "score": score.score})
    return {
        "id": attempt.id,
        "attack": attempt.attack,
        "family": attempt.family,
        "variant": attempt.variant,
        "objective_id": attempt.objective.id,
        "category": attempt.objective.category,
        "objective": attempt.objective.to_dict(),
        "prompt": attempt.messages(),
        "response": response,
        "rounds": rounds,
        "n_rounds": len(rounds),
        **score.to_dict(),
        "state": dict(attempt.state),
        "seconds": round(seconds, 4),
    }


def run_rounds(
    chunk: Sequence[Attempt],
    target: ChatModel,
    scorer: Scorer,
    attacks: dict[str, Attack],
    ctx: AttackContext,
    generation: GenerationConfig,
    emit: Callable[[Attempt, str, Score], None],
) -> int:
    """Every round of one chunk; ``emit`` gets each attempt as it finishes. Returns the
    number of target calls made (rounds x attempts)."""
    active = list(chunk)
    calls = 0
    while active:
        replies = target.generate([a.messages() for a in active], generation)
        scores = scorer.score([a.objective for a in active], replies)
        calls += len(active)
        more: dict[str, list[int]] = {}
        for i, (a, s) in enumerate(zip(active, scores, strict=True)):
            attack = attacks[a.attack]
            going_on = (
                isinstance(attack, AdaptiveAttack)
                and not s.success
                and len(a.rounds) + 1 < ctx.max_rounds
            )
            if going_on:
                more.setdefault(a.attack, []).append(i)
            else:
                emit(a, replies[i], s)
        next_round: list[Attempt] = []
        for name, idx in more.items():
            attack = attacks[name]
            assert isinstance(attack, AdaptiveAttack)
            refined = attack.refine(
                [active[i] for i in idx],
                [replies[i] for i in idx],
                [scores[i].score for i in idx],
                ctx,
            )
            for i, nxt in zip(idx, refined, strict=True):
                if nxt is None:
                    emit(active[i], replies[i], scores[i])
                else:
                    next_round.append(nxt)
        active = next_round
    return calls


def _check_folder(out: Path, cfg: CampaignConfig) -> dict[str, Any]:
    """The campaign's manifest; a folder that holds another campaign is refused."""
    from valign.records.runs import config_to_dict

    path = out / MANIFEST
    wanted = config_hash(cfg)
    if path.is_file():
        import json

        old = json.loads(path.read_text(encoding="utf-8"))
        if old.get("config_hash") != wanted:
            raise UserError(
                f"{out} holds a campaign with other settings (config hash "
                f"{old.get('config_hash')} != {wanted}); use another --out or the same settings"
            )
        return dict(old)
    m = manifest("redteam", config_to_dict(cfg), cfg.seed)
    atomic_write_json(path, m)
    return m


def run_campaign(
    cfg: CampaignConfig,
    out: Path,
    *,
    target: ChatModel | None = None,
    scorer: Scorer | None = None,
    attacker: Any = None,
    console: Console | None = None,
    on_record: OnRecord | None = None,
) -> dict[str, Any]:
    """Run (or resume) a campaign into ``out`` and return its summary.

    ``target``, ``scorer`` and ``attacker`` default to what ``cfg`` names; tests pass
    their own. ``on_record`` is called after each finding is written.
    """
    from valign.redteam.summary import summarise

    console = console or Console(stderr=True)
    out.mkdir(parents=True, exist_ok=True)
    _check_folder(out, cfg)
    if attacker is None:
        from valign.redteam.attacker import make_attacker

        attacker = make_attacker(cfg.attacker)
    ctx = AttackContext(
        seed=cfg.seed, variants=cfg.variants, max_rounds=cfg.max_rounds, attacker=attacker
    )
    objectives, attacks, attempts = plan(cfg, ctx)
    done = completed_ids(out / FINDINGS)
    pending = [a for a in attempts if a.id not in done]
    console.print(
        f"[dim]redteam: {len(attacks)} attacks x {len(objectives)} objectives = "
        f"{len(attempts)} attempts ({len(attempts) - len(pending)} already done)[/]",
        highlight=False,
    )
    if target is None:
        target = _load_target(cfg)
    if scorer is None:
        scorer = make_scorer(cfg)
    scorer.load()
    generation = GenerationConfig(
        max_new_tokens=cfg.max_new_tokens, temperature=0.0, seed=cfg.seed, batch_size=cfg.batch_size
    )
    by_name = {a.meta.name: a for a in attacks}
    t0 = time.perf_counter()
    calls = 0
    with RecordWriter(out / FINDINGS) as writer:
        last = [time.perf_counter()]

        def emit(attempt: Attempt, response: str, score: Score) -> None:
            now = time.perf_counter()
            record = finding(attempt, response, score, now - last[0])
            last[0] = now
            writer.write(record)
            if on_record is not None:
                on_record(record)

        for start in range(0, len(pending), cfg.chunk):
            chunk = pending[start : start + cfg.chunk]
            calls += run_rounds(chunk, target, scorer, by_name, ctx, generation, emit)
            console.print(
                f"[dim]redteam: {min(start + cfg.chunk, len(pending))}/{len(pending)} attempts[/]",
                highlight=False,
            )
    seconds = time.perf_counter() - t0
    run_controls(cfg, out, target, scorer, generation)
    summary = summarise(
        read_records(out / FINDINGS),
        read_records(out / CONTROLS),
        attacks=[a.meta for a in attacks],
        throughput={"attempts": len(pending), "target_calls": calls, "seconds": seconds},
    )
    summary["model"] = cfg.model or getattr(target, "name", "")
    if {"guard", "refusal", "judge"} & set(scorer.detectors):
        from valign.redteam.labelled import evaluate_detectors

        summary["detectors_labelled"] = evaluate_detectors(scorer)
    atomic_write_json(out / SUMMARY, summary)
    return summary


def _load_target(cfg: CampaignConfig) -> ChatModel:
    from valign.models import load_model

    if not cfg.model:
        raise UserError("no target model: give --model PATH_OR_ENDPOINT")
    if cfg.model.startswith(("http://", "https://")):
        return load_model(cfg.model, concurrency=cfg.concurrency)
    return load_model(cfg.model)


def make_scorer(cfg: CampaignConfig) -> Scorer:
    """The scorer ``cfg`` describes (models and guards load on first use)."""
    from valign.redteam.scoring import LLMJudge

    detectors = list(cfg.detectors)
    judge = None
    if cfg.judge:
        from valign.models import load_model

        judge = LLMJudge(load_model(cfg.judge))
        if "judge" not in detectors:
            detectors.append("judge")
    guard = None
    if "guard" in detectors and cfg.guard != "default":
        from valign.guard import get_backend

        guard = get_backend(cfg.guard)
    return Scorer(detectors, guard=guard, judge=judge)


def run_controls(
    cfg: CampaignConfig,
    out: Path,
    target: ChatModel,
    scorer: Scorer,
    generation: GenerationConfig,
) -> None:
    """Borderline-safe requests sent plainly: their refusals are over-refusal."""
    from valign.redteam.objectives import load_controls

    controls = load_controls(cfg.objectives, cfg.seed, cfg.controls)
    done = completed_ids(out / CONTROLS)
    pending = [c for c in controls if c.id not in done]
    if not pending:
        return
    convs: list[Conversation] = [[{"role": "user", "content": c.request}] for c in pending]
    replies = target.generate(convs, generation)
    refused = refusals(scorer, [c.request for c in pending], replies)
    with RecordWriter(out / CONTROLS) as writer:
        for c, reply, r in zip(pending, replies, refused, strict=True):
            writer.write(
                {
                    "id": c.id,
                    "category": c.category,
                    "prompt": c.request,
                    "response": reply,
                    "refused": r,
                }
            )


def refusals(scorer: Scorer, prompts: Sequence[str], replies: Sequence[str]) -> list[bool]:
    """Whether each reply refuses: the learned detector when the scorer uses it, else the
    microworld's exact pattern."""
    if "refusal" in scorer.detectors:
        return [r.refusal for r in scorer.refusal.detect(list(zip(prompts, replies, strict=True)))]
    from valign.world import pattern_refusal

    return [pattern_refusal(r) for r in replies]
