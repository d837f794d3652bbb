"""The interpretability stages of both profiles.

``valign demo``: ``interp`` (opt-in) probes the base model per layer for the
constitution's concepts (``valign interp probe``) -> ``interp/``.

``valign demo --profile smollm2``: ``interp`` fits per-layer probes of harmful vs harmless
requests and the refusal direction (Arditi et al. 2024), steers the base model with it and
ablates it from the aligned model, on the public test split -> ``interp/``. Graded by the
profile's judge; nothing is trained.
"""

from __future__ import annotations

from typing import Any

from valign.evals.real_profile import (
    CHECK_COLUMNS,
    CHECK_KINDS,
    check_cells,
    check_items,
    profile_models,
    score_records,
)
from valign.records.tasks import load_items
from valign.report.sections import line_plot, section, table
from valign.stage import StageContext


def interp_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """Per-layer probes of the base model (``valign interp probe``), inside interp/."""
    run, cfg = ctx.run, ctx.cfg
    from valign.interp.probe_job import ProbeSettings, run_probe

    settings = ProbeSettings(
        model=str(run.stage_path("pretrain") / "model"),
        world=str(run.stage_path("world")),
        seed=cfg.seed,
    )
    return run_probe(settings, run.stage("interp"))


def _at(results: list[Any], layer: int) -> Any:
    from valign.errors import UserError

    for r in results:
        if r.layer == layer:
            return r
    raise UserError(f"interp.layer {layer} is not a layer of this model (0-{len(results) - 1})")


def real_interp_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """Per-layer probes of both models; the base model's refusal direction added (gated by
    its harmful-request probe) and the aligned model's own direction ablated, on the test
    split's harmful and sensitive-but-safe requests."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.evals.judge import make_judge
    from valign.evals.runner import evaluate_items
    from valign.guard.regrade import replayed
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
    items = check_items(run)
    refusal = ctx.constitution.refusal_message
    judge = make_judge(cfg.judge, refusals=[refusal])[0]
    out = run.stage("interp")
    settings = cfg.interp
    gen = GenerationConfig(
        max_new_tokens=cfg.max_new_tokens, temperature=0.0, batch_size=cfg.batch_size
    )
    scans: dict[str, list[dict[str, Any]]] = {}
    chosen: dict[str, Any] = {}
    points: list[dict[str, Any]] = []
    ablated: dict[str, Any] | None = None
    for name, folder in profile_models(run).items():
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
        name: score_records(
            replayed(
                run.stage_path(f"eval_{name}") / "responses.jsonl",
                name,
                items,
                out / f"unsteered-{name}.jsonl",
                judge,
                cfg.max_new_tokens,
            )
        )
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
