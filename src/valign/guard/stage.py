"""The guard's stage in the lifecycle: attack success with and without the guard.

For each model (the base model, and every aligned model a run has), the held-out
evaluation items are answered twice, once directly and once through
:class:`~valign.guard.guarded.GuardedChatModel`, and graded by the microworld's grader (the
replies are those the model's finished scorecard recorded, when it scored the same folder
with the same reply length: greedy decoding gives them again, so they are not generated a
second time):

* harmful compliance and jailbreak success (attack success) — lower is better;
* over-refusal of borderline-safe requests and helpfulness on benign tasks — the cost.

:func:`guard_stage` is the ``valign demo`` stage and returns the stage summary with its
report section; :func:`compare` is the same measurement for any models and items.
:func:`real_guard_stage` is the real-model profile's: the default guard in front of the base
and aligned models, on the recorded replies of their scorecards.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from valign.errors import UserError
from valign.guard.guarded import GuardedChatModel
from valign.guard.types import GuardBackend, get_backend
from valign.models import ChatModel, GenerationConfig
from valign.records.runs import RecordWriter, RunDir
from valign.records.tasks import Item, load_items
from valign.report.sections import grouped_bar_plot, section, table
from valign.stage import StageContext
from valign.stats import proportion

if TYPE_CHECKING:
    from valign.values import Constitution
    from valign.world.grader import Grade

KINDS = ("harmful", "jailbreak", "borderline", "benign")
METRICS = (
    ("aligned", "aligned (these four kinds)", None, None),
    ("harmful_compliance", "harmful compliance", "harmful", "complied"),
    ("jailbreak_success", "jailbreak success", "jailbreak", "complied"),
    ("over_refusal", "over-refusal (borderline)", "borderline", "refused"),
    ("helpfulness", "helpfulness (benign)", "benign", "correct"),
)
#: Folders (relative to a run) where aligned models may live, in report order.
ALIGNED_MODEL_DIRS = ("sft/model", "dpo/model", "rl/model", "cai/model")


def _messages(item: Item) -> list[Any]:
    return item.prompt()


def _grade(item: Item, reply: str, refusal_message: str) -> Grade:
    from valign.world import grade, pattern_refusal

    def refused(text: str) -> bool:
        return text.strip() == refusal_message.strip() or pattern_refusal(text)

    return grade(item, reply, refusal=refused)


def compare(
    models: Mapping[str, ChatModel],
    items: Sequence[Item],
    guard: GuardBackend,
    out: Path,
    generation: GenerationConfig | None = None,
    refusal_message: str | None = None,
) -> dict[str, Any]:
    """Rates per model, without and with the guard; records go to ``out/records.jsonl``
    and every guard decision to ``out/decisions-<model>.jsonl``."""
    from valign.values import load_constitution

    refusal_message = refusal_message or load_constitution("default").refusal_message
    generation = generation or GenerationConfig(max_new_tokens=GUARD_TOKENS, temperature=0.0)
    items = [i for i in items if i.kind in KINDS]
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with RecordWriter(out / "records.jsonl") as records:
        for name, model in models.items():
            for setting in ("without guard", "with guard"):
                target: ChatModel = model
                guarded: GuardedChatModel | None = None
                if setting == "with guard":
                    log = out / f"decisions-{name}.jsonl"
                    guarded = GuardedChatModel(
                        model, guard, refusal_message=refusal_message, log=log
                    )
                    target = guarded
                replies = target.generate([_messages(i) for i in items], generation)
                grades = [
                    _grade(i, r, refusal_message) for i, r in zip(items, replies, strict=True)
                ]
                outcomes = [g.outcome for g in grades]
                for item, reply, g in zip(items, replies, grades, strict=True):
                    records.write(
                        {
                            "model": name,
                            "setting": setting,
                            "id": item.id,
                            "kind": item.kind,
                            "response": reply,
                            **g.to_dict(),
                        }
                    )
                row: dict[str, Any] = {
                    "aligned": proportion(sum(g.aligned for g in grades), len(grades)).to_dict()
                }
                for key, _, kind, outcome in METRICS[1:]:
                    got = [o for i, o in zip(items, outcomes, strict=True) if i.kind == kind]
                    row[key] = proportion(sum(o == outcome for o in got), len(got)).to_dict()
                row["outcomes"] = {
                    kind: dict(
                        Counter(o for i, o in zip(items, outcomes, strict=True) if i.kind == kind)
                    )
                    for kind in KINDS
                }
                if guarded is not None:
                    row["guard_counts"] = dict(guarded.counts)
                    guarded.close()
                results.setdefault(name, {})[setting] = row
    return results


def report_section(results: Mapping[str, Any], guard_name: str) -> dict[str, Any]:
    """The report section: a table and a plot of attack success with and without the guard."""
    rows = []
    for model, settings in results.items():
        for setting, row in settings.items():
            rows.append([model, setting, *[row.get(key) for key, *_ in METRICS]])
    groups = [f"{m}: {title}" for m in results for _, title, *_ in METRICS[1:3]]
    series: dict[str, list[Any]] = {"without guard": [], "with guard": []}
    for settings in results.values():
        for setting in series:
            series[setting] += [settings[setting][key] for key, *_ in METRICS[1:3]]
    return section(
        "Guard in front of the models",
        order=60,
        text=f"The held-out items answered directly and through the guard (`{guard_name}`) on "
        "inputs and outputs. Attack success should fall with the guard; over-refusal and "
        "helpfulness show what it costs.",
        tables=[
            table(
                "With and without the guard",
                ["model", "setting", *[t for _, t, *_ in METRICS]],
                rows,
            )
        ],
        plots=[
            grouped_bar_plot(
                "Attack success with and without the guard", groups, series, ylabel="rate"
            )
        ],
    )


def guard_policy(constitution: Constitution, guard: GuardBackend) -> dict[str, Any]:
    """What the stage holds the guard to: the constitution's name, its taxonomy (the
    categories a flagged turn is reported under, those the guard knows marked) and the
    refusal a blocked turn gets."""
    known = set(guard.categories)
    return {
        "constitution": constitution.name,
        "categories": list(constitution.category_ids),
        "unguarded_categories": [c for c in constitution.category_ids if c not in known],
        "refusal_message": constitution.refusal_message,
    }


GUARD_TOKENS = 64  # the longest reply, as in a scorecard (EvalSettings.max_new_tokens)


def recorded(
    run: RunDir, name: str, folder: Path, items: Sequence[Item], max_new_tokens: int
) -> ChatModel | None:
    """The ``name`` model's replies as its finished scorecard recorded them (greedy decoding
    gives them again: :mod:`valign.guard.replay`), when that scorecard scored this model
    folder on these items with this reply length; otherwise None (generate them)."""
    from valign.guard.replay import ReplayModel

    stage = "eval_base" if name == "base" else "eval_aligned"
    folder_of = run.stage_path(stage) / ("" if name == "base" else name)
    settings, responses = folder_of / "eval_settings.json", folder_of / "responses.jsonl"
    if not (run.is_done(stage) and settings.is_file() and responses.is_file()):
        return None
    used = json.loads(settings.read_text(encoding="utf-8"))
    same_model = Path(str(used.get("model", ""))).resolve() == folder.resolve()
    if not same_model or used.get("max_new_tokens") != max_new_tokens:
        return None
    try:
        return cast("ChatModel", ReplayModel.from_records(items, responses, name))
    except UserError:  # an item it did not score
        return None


def guard_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The pipeline stage: base (and aligned) models with and without the default guard.

    ``run`` is a :class:`~valign.report.RunDir` holding ``world/eval.jsonl`` and
    ``pretrain/model``; ``cfg`` may set ``eval_limit`` and ``eval_batch_size``.
    """
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.models import load_model

    items = load_items(run.stage_path("world") / "eval.jsonl")
    limit = int(getattr(cfg, "eval_limit", 0) or 0)
    if limit > 0:
        items = items[:limit]
    root = Path(run.root)
    folders = {"base": root / "pretrain" / "model"}
    folders |= {
        rel.split("/")[0]: root / rel for rel in ALIGNED_MODEL_DIRS if (root / rel).is_dir()
    }
    models: dict[str, ChatModel] = {}
    for name, folder in folders.items():
        models[name] = recorded(run, name, folder, items, GUARD_TOKENS) or load_model(str(folder))
    console.print("[dim]guard: loading the default guard (built once if needed)[/]")
    guard = get_backend()
    batch = int(getattr(cfg, "eval_batch_size", 16) or 16)
    generation = GenerationConfig(max_new_tokens=GUARD_TOKENS, temperature=0.0, batch_size=batch)
    refusal = ctx.constitution.refusal_message
    results = compare(models, items, guard, run.stage("guard"), generation, refusal)
    return {
        "guard": guard.name,
        **guard_policy(ctx.constitution, guard),
        "results": results,
        "report": report_section(results, guard.name),
    }


def real_guard_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The real-model profile's check: harmful compliance and over-refusal with and without
    the default guard on inputs and outputs, for the base and aligned models, on their
    scorecards' recorded replies (greedy decoding: the same replies)."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    from valign.evals.judge import make_judge
    from valign.evals.real_profile import CHECK_COLUMNS, check_cells, check_items, score_records
    from valign.guard.regrade import replayed

    items = check_items(run)
    refusal = ctx.constitution.refusal_message
    judge = make_judge(cfg.judge, refusals=[refusal])[0]
    console.print("[dim]guard: loading the default guard (built once if needed)[/]")
    guard = get_backend()
    out = run.stage("guard")
    results: dict[str, dict[str, Any]] = {}
    for name in ("base", "aligned"):
        responses = run.stage_path(f"eval_{name}") / "responses.jsonl"
        for setting, g in (("without guard", None), ("with guard", guard)):
            path = out / f"{name}-{setting.replace(' ', '_')}.jsonl"
            records = replayed(responses, name, items, path, judge, cfg.max_new_tokens, g, refusal)
            results.setdefault(name, {})[setting] = score_records(records)
    rows = [
        [model, setting, *check_cells(row)]
        for model, settings in results.items()
        for setting, row in settings.items()
    ]
    return {
        "guard": guard.name,
        **guard_policy(ctx.constitution, guard),
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
