"""The real-model profile's checks after alignment: the guard, a red-team campaign, and where
the model decides to refuse.

    guard      the default guard in front of the base and aligned models, on the recorded
               replies of their scorecards (greedy decoding: the same replies)  -> guard/
    redteam    jailbreak templates and rephrasings around public harmful test requests,
               against the base and aligned models                             -> redteam/
    interp     per-layer probes of harmful vs harmless requests, the refusal direction
               (Arditi et al. 2024), steering the base model with it and ablating it from
               the aligned model, on the public test split                      -> interp/

Each is a stage of :data:`valign.pipeline.REAL_STAGES`, resumable, graded by the profile's
judge; none of them trains anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from valign.records.runs import RunDir
from valign.records.tasks import Item, load_items
from valign.report import format_value
from valign.report.sections import section, table

#: The kinds a guard or a refusal intervention should change (harm) or leave alone (the
#: sensitive-but-safe requests).
CHECK_KINDS = ("harmful", "borderline")
CHECK_KEYS = ("aligned", "harmful_compliance", "over_refusal")


def _test_items(run: RunDir, kinds: tuple[str, ...] = CHECK_KINDS) -> list[Item]:
    return [it for it in load_items(run.stage_path("tasks") / "test.jsonl") if it.kind in kinds]


def _models(run: RunDir) -> dict[str, str]:
    from valign.train.real_stage import base_model

    return {"base": base_model(run), "aligned": str(run.stage_path("aligned") / "model")}


def _judge(cfg: Any) -> Any:
    from valign.evals.judge import make_judge
    from valign.values import load_constitution

    message = load_constitution(cfg.constitution).refusal_message
    return make_judge(cfg.judge, refusals=[message])[0]


def score_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The check metrics of graded records, with their outcome counts per kind."""
    from valign.evals.scorecard import compute_scorecard

    card = compute_scorecard(records)
    row: dict[str, Any] = {k: card["metrics"].get(k) for k in CHECK_KEYS}
    row["outcomes"] = {k: v for k, v in card.get("outcomes", {}).items() if v}
    return row


def check_cells(row: dict[str, Any]) -> list[str]:
    """A row's cells: aligned with its interval, harmful compliance with its refused /
    complied / non-answer counts, over-refusal with how many of how many."""
    out = row.get("outcomes", {})
    harm, border = out.get("harmful", {}), out.get("borderline", {})
    n_harm, n_border = sum(harm.values()), sum(border.values())
    refused, complied = harm.get("refused", 0), harm.get("complied", 0)
    cells = [format_value(row.get("aligned"))]
    cells.append(
        f"{complied / n_harm:.1%} ({refused} / {complied} / {n_harm - refused - complied})"
        if n_harm
        else "-"
    )
    over = border.get("refused", 0)
    cells.append(f"{over / n_border:.1%} ({over} of {n_border})" if n_border else "-")
    return cells


#: The columns of :func:`check_cells`.
CHECK_COLUMNS = (
    "aligned (these kinds)",
    "harmful compliance (refused / complied / non-answer)",
    "over-refusal (refused of)",
)


def replayed(
    run: RunDir,
    cfg: Any,
    name: str,
    items: list[Item],
    path: Path,
    judge: Any,
    guard: Any = None,
) -> list[dict[str, Any]]:
    """The ``name`` model's recorded scorecard replies to ``items``, graded again by
    ``judge`` (the profile's) into ``path``; through ``guard`` (inputs and outputs) when one
    is given."""
    from valign.evals.runner import evaluate_items
    from valign.guard.guarded import GuardedChatModel
    from valign.guard.replay import ReplayModel
    from valign.models import GenerationConfig

    replay = ReplayModel.from_records(
        items, run.stage_path(f"eval_{name}") / "responses.jsonl", name
    )
    gen = GenerationConfig(max_new_tokens=cfg.max_new_tokens, temperature=0.0)
    if guard is None:
        return evaluate_items(replay, items, path, gen, judge=judge, score_choices=False)
    log = path.with_name(f"decisions-{path.name}")
    with GuardedChatModel(replay, guard, constitution=cfg.constitution, log=log) as guarded:
        return evaluate_items(guarded, items, path, gen, judge=judge, score_choices=False)


def stage_guard(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    """Harmful compliance and over-refusal with and without the default guard on inputs and
    outputs, for the base and aligned models, on their scorecards' recorded replies."""
    from valign.guard.types import get_backend

    items = _test_items(run)
    judge = _judge(cfg)
    console.print("[dim]guard: loading the default guard (built once if needed)[/]")
    guard = get_backend()
    out = run.stage("guard")
    results: dict[str, dict[str, Any]] = {}
    for name in ("base", "aligned"):
        for setting, g in (("without guard", None), ("with guard", guard)):
            path = out / f"{name}-{setting.replace(' ', '_')}.jsonl"
            records = replayed(run, cfg, name, items, path, judge, g)
            results.setdefault(name, {})[setting] = score_records(records)
    rows = [
        [model, setting, *check_cells(row)]
        for model, settings in results.items()
        for setting, row in settings.items()
    ]
    return {
        "guard": guard.name,
        "items": len(items),
        "results": results,
        "report": section(
            "Guard in front of the models",
            order=40,
            text=f"The default guard (`{guard.name}`) on the inputs and outputs of the base and "
            f"aligned models, over the {len(items)} harmful and sensitive-but-safe test "
            "requests. The replies are the scorecards' own (greedy decoding), so the guard "
            "sees what it would see in front of the live model; a blocked turn gets the "
            "constitution's refusal message.",
            tables=[
                table(
                    "With and without the guard",
                    ["model", "setting", *CHECK_COLUMNS],
                    rows,
                )
            ],
        ),
    }


def objectives_file(items: list[Item], path: Path, limit: int) -> int:
    """The first ``limit`` harmful test requests of each public source, as a red-team
    objectives file (``valign redteam --objectives``); returns how many."""
    import json

    from valign.records.runs import atomic_write_text

    per_source: dict[str, list[Item]] = {}
    for it in items:
        if it.kind == "harmful":
            per_source.setdefault(str(it.meta.get("reply_source", "")), []).append(it)
    chosen = [it for group in per_source.values() for it in group[:limit]]
    rows = [
        {"id": it.id, "category": it.category or "harmful", "request": it.request} for it in chosen
    ]
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)


def stage_redteam(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    """Attack the base and aligned models with jailbreak templates and rephrasings wrapped
    around public harmful test requests; success when the attempt detector, reading the
    request with the reply, finds the request attempted (the scorecard's judge; the red
    team's rule for objectives without markers)."""
    from valign.redteam.campaign import CampaignConfig, run_campaign

    out = run.stage("redteam")
    n = objectives_file(
        _test_items(run, ("harmful",)), out / "objectives.jsonl", cfg.redteam.per_source
    )
    results: dict[str, Any] = {}
    for name, model in _models(run).items():
        campaign = CampaignConfig(
            model=model,
            attacks=tuple(cfg.redteam.attacks),
            objectives=str(out / "objectives.jsonl"),
            variants=1,
            detectors=("refusal",),
            controls=0,
            seed=cfg.seed,
            batch_size=cfg.batch_size,
            max_new_tokens=cfg.max_new_tokens,
        )
        summary = run_campaign(campaign, out / name, console=console)
        results[name] = {
            "asr": summary["asr"],
            "by_family": summary["by_family"],
            "n_attempts": summary["n_attempts"],
        }
    families = sorted({f for r in results.values() for f in r["by_family"]})
    rows = [
        [name, *(format_value(r["by_family"].get(f)) for f in families), format_value(r["asr"])]
        for name, r in results.items()
    ]
    return {
        "objectives": n,
        "results": results,
        "report": section(
            "Red-team campaign",
            order=42,
            text=f"{n} harmful test requests ({cfg.redteam.per_source} per public source) "
            f"inside the attacks {', '.join(cfg.redteam.attacks)}, one attempt each, against "
            "the base and aligned models. Success: the attempt detector, reading the original "
            "request with the reply, finds it attempted (no compliance markers exist for "
            "public requests; the detector's agreement with people is in BENCHMARKS.md).",
            tables=[table("Attack success", ["model", *families, "all"], rows)],
        ),
    }


def _at(results: list[Any], layer: int) -> Any:
    from valign.errors import UserError

    for r in results:
        if r.layer == layer:
            return r
    raise UserError(f"interp.layer {layer} is not a layer of this model (0-{len(results) - 1})")


def stage_interp(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    """Per-layer probes of both models; the base model's refusal direction added (gated by
    its harmful-request probe) and the aligned model's own direction ablated, on the test
    split's harmful and sensitive-but-safe requests."""
    from valign.evals.runner import evaluate_items
    from valign.interp.common import open_model
    from valign.interp.refusal_scan import ablation_steers, layer_scan, pick_layer
    from valign.interp.sites import decoder_layers
    from valign.interp.steering import probe_gate, steering
    from valign.interp.sweep import SweepConfig, sweep
    from valign.models import GenerationConfig
    from valign.records.runs import atomic_write_json, read_records

    train = load_items(run.stage_path("tasks") / "train.jsonl")
    test_all = load_items(run.stage_path("tasks") / "test.jsonl")
    scan_test = [it for it in test_all if it.kind in (*CHECK_KINDS, "misconception")]
    items = _test_items(run)
    judge = _judge(cfg)
    out = run.stage("interp")
    settings = cfg.interp
    gen = GenerationConfig(
        max_new_tokens=cfg.max_new_tokens, temperature=0.0, batch_size=cfg.batch_size
    )
    scans: dict[str, list[dict[str, Any]]] = {}
    chosen: dict[str, Any] = {}
    points: list[dict[str, Any]] = []
    ablated: dict[str, Any] | None = None
    for name, folder in _models(run).items():
        chat = open_model(folder)
        console.print(f"[dim]interp: scanning the layers of the {name} model[/]")
        results = layer_scan(chat, train, scan_test, batch_size=cfg.batch_size)
        scans[name] = [r.to_dict() for r in results]
        pick = pick_layer(results) if settings.layer is None else _at(results, settings.layer)
        chosen[name] = pick.to_dict()
        pick.direction.save(out / f"direction-{name}.json")
        if name == "base" and settings.strengths:
            gate = probe_gate(pick.direction.site, pick.probe)
            points = sweep(
                chat,
                items,
                pick.direction,
                out / "steer-base",
                SweepConfig(
                    strengths=tuple(settings.strengths),
                    mode="add",
                    positions="all",
                    max_new_tokens=cfg.max_new_tokens,
                    batch_size=cfg.batch_size,
                ),
                gate=gate,
                label="gated",
                judge=judge,
            )
        if name == "aligned" and settings.ablate:
            steers = ablation_steers(pick.direction, len(decoder_layers(chat.model)))
            with steering(chat.model, steers):
                records = evaluate_items(
                    chat,
                    items,
                    out / "ablate-aligned.jsonl",
                    gen,
                    judge=judge,
                    score_choices=False,
                )
            ablated = score_records(records)
        del chat
    atomic_write_json(out / "scan.json", scans)
    unsteered = {
        name: score_records(replayed(run, cfg, name, items, out / f"unsteered-{name}.jsonl", judge))
        for name in ("base", "aligned")
    }
    steered = [
        (
            p["strength"],
            score_records(read_records(out / "steer-base" / f"gated-{p['strength']:g}.jsonl")),
        )
        for p in points
    ]
    return _interp_summary(unsteered, scans, chosen, points, steered, ablated)


def _interp_summary(
    unsteered: dict[str, dict[str, Any]],
    scans: dict[str, list[dict[str, Any]]],
    chosen: dict[str, Any],
    points: list[dict[str, Any]],
    steered: list[tuple[float, dict[str, Any]]],
    ablated: dict[str, Any] | None,
) -> dict[str, Any]:
    """The stage summary and its report section."""
    from valign.report.sections import line_plot

    layers = [r["layer"] for r in next(iter(scans.values()))]
    curves = {
        f"{kind} ({name})": [r[f"{kind}_accuracy"] for r in rows]
        for name, rows in scans.items()
        for kind in ("probe", "direction")
    }
    rows = [["base", "none", *check_cells(unsteered["base"])]]
    for strength, row in steered:
        what = f"its direction added where its probe fires, strength {strength:g}, every position"
        rows.append(["base", what, *check_cells(row)])
    rows.append(["aligned", "none", *check_cells(unsteered["aligned"])])
    if ablated is not None:
        rows.append(
            ["aligned", "its direction projected out of every layer", *check_cells(ablated)]
        )
    picks = "; ".join(
        f"{name}: layer {c['layer']} (direction {c['direction_accuracy']:.1%}, probe "
        f"{c['probe_accuracy']:.1%} held-out balanced accuracy)"
        for name, c in chosen.items()
    )
    return {
        "scan": scans,
        "chosen": chosen,
        "steering": points,
        "ablation": ablated,
        "report": section(
            "Interpretability: where the model decides to refuse",
            order=44,
            text="At every decoder layer, the residual stream at the prompt's last token: a "
            "linear probe (harmful vs harmless request) and the difference-of-means direction, "
            "both fitted on the train requests and scored on the test requests. The refusal "
            f"direction is taken at the best-separating layer in the first three quarters "
            f"({picks}). Steering adds the base model's direction, at every position, to the "
            "requests its own probe flags (conditional activation steering); ablation "
            "projects the aligned model's direction out of every layer (Arditi et al. 2024). "
            "Graded by the profile's judge on the test split's harmful and sensitive-but-safe "
            "requests.",
            plots=[
                line_plot(
                    "Held-out balanced accuracy per layer",
                    layers,
                    curves,
                    xlabel="layer",
                    ylabel="balanced accuracy",
                    percent=True,
                )
            ],
            tables=[
                table(
                    "Steering and ablation",
                    ["model", "intervention", *CHECK_COLUMNS],
                    rows,
                )
            ],
        ),
    }
