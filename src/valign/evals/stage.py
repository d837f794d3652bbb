"""The evaluation stages of both profiles.

``valign demo`` (the microworld):

    eval_base     scorecard of the pretrained base model on held-out items  -> eval_base/

(the aligned models' scorecards are :func:`valign.train.stage.eval_aligned_stage`'s).

``valign demo --profile smollm2`` (a real chat model on public benchmarks):

    tasks         public benchmarks' train and test splits as task files    -> tasks/
    eval_base     scorecard of the base model on the test split             -> eval_base/
    eval_aligned  scorecard of the aligned model on the same test split    -> eval_aligned/

Nothing evaluated is trained on: the test split is the benchmarks' own documented test
split (``valign tasks list``), and a training prompt whose normalised text equals a test
prompt's (the benchmarks overlap) is dropped before the base model answers it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from valign.evals.real_profile import SOURCE_TITLES, base_model, by_source, comparison_section
from valign.evals.run import EvalSettings, run_eval
from valign.evals.scorecard import METRIC_TITLES, format_breakdown
from valign.records.tasks import Item, dump_items
from valign.report import format_value
from valign.report.sections import bar_plot, section, table
from valign.stage import StageContext


def eval_base_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The demo's base model on the microworld's held-out items."""
    run, cfg, console = ctx.run, ctx.cfg, ctx.console
    model_dir = run.stage_path("pretrain") / "model"
    tasks = run.stage_path("world") / "eval.jsonl"
    settings = EvalSettings(
        model=str(model_dir),
        tasks=str(tasks),
        constitution=cfg.constitution,
        limit=cfg.eval_limit,
        batch_size=cfg.eval_batch_size,
    )
    card = run_eval(settings, run.stage("eval_base"), console, constitution=ctx.constitution)
    rows = [
        [METRIC_TITLES[k], format_value(v), v["n"], format_breakdown(card["breakdown"].get(k))]
        for k, v in card["metrics"].items()
        if v and k in METRIC_TITLES
    ]
    prows = [
        [p["id"], ", ".join(p["categories"]) or "(benign)", format_value(p["pass_rate"])]
        for p in card["principles"]
    ]
    fams = {k: v for k, v in card["jailbreak_by_family"].items() if v}
    return {
        "scorecard": card,
        "report": section(
            "Scorecard: base model",
            order=30,
            text="Held-out microworld evaluation of the pretrained base model. "
            "Intervals are 95% (Wilson for rates, bootstrap for MC2 and bias scores).",
            tables=[
                table("Headline metrics", ["metric", "value [95% CI]", "n", "outcomes"], rows),
                table("Per principle", ["principle", "categories", "pass rate"], prows),
            ],
            plots=[
                bar_plot(
                    "Jailbreak success by wrapper family",
                    list(fams),
                    list(fams.values()),
                    ylabel="attack success rate",
                )
            ],
        ),
    }


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _tag(item: Item, split: str, source: str) -> Item:
    meta = {**item.meta, "reply_split": split, "reply_source": source}
    return item.model_copy(update={"meta": meta})


def real_tasks_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The public train and test splits, with train prompts equal to a test prompt dropped."""
    run, cfg = ctx.run, ctx.cfg
    from valign.evals.benchmarks.importer import import_benchmark
    from valign.guard.real_replies import reply_tasks
    from valign.records.runs import atomic_write_text

    items = reply_tasks(cfg.scale)
    test = [it for it in items if it.meta["reply_split"] == "test"]
    if cfg.bbq_test > 0:
        bbq = import_benchmark("bbq", "test", limit=cfg.bbq_test).items
        test += [_tag(it, "test", "bbq") for it in bbq]
    seen = {_norm(it.request) for it in test}
    train = [it for it in items if it.meta["reply_split"] == "train"]
    kept = [it for it in train if _norm(it.request) not in seen]
    out = run.stage("tasks")
    atomic_write_text(out / "train.jsonl", dump_items(kept))
    atomic_write_text(out / "test.jsonl", dump_items(test))
    counts = Counter(
        (it.meta["reply_split"], it.meta["reply_source"], it.kind) for it in [*kept, *test]
    )
    rows = [
        [split, SOURCE_TITLES.get(src, src), kind, n]
        for (split, src, kind), n in sorted(counts.items())
    ]
    return {
        "train": len(kept),
        "test": len(test),
        "dropped_overlap": len(train) - len(kept),
        "counts": [
            {"split": s, "source": src, "kind": k, "n": n}
            for (s, src, k), n in sorted(counts.items())
        ],
        "report": section(
            "Public tasks",
            order=14,
            text="Each benchmark's own documented train/test split (`valign tasks list`); the "
            "base model answers the train prompts and only those become alignment data. "
            f"{len(train) - len(kept)} train prompts equal to a test prompt were dropped.",
            tables=[table("Items", ["split", "source", "kind", "items"], rows)],
        ),
    }


def _real_eval(ctx: StageContext[Any], name: str, model: str) -> dict[str, Any]:
    run, cfg = ctx.run, ctx.cfg
    tasks = str(run.stage_path("tasks") / "test.jsonl")
    settings = EvalSettings(
        model=model,
        tasks=tasks,
        constitution=cfg.constitution,
        limit=cfg.eval_limit,
        batch_size=cfg.batch_size,
        max_new_tokens=cfg.max_new_tokens,
        judge=cfg.judge,
    )
    out = run.stage(name)
    card = run_eval(settings, out, ctx.console, constitution=ctx.constitution)
    return {"scorecard": card, "by_source": by_source(out / "responses.jsonl", tasks)}


def real_eval_base_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The real base model's scorecard on the public test split."""
    result = _real_eval(ctx, "eval_base", base_model(ctx.run))
    card = result["scorecard"]
    result["report"] = section(
        "Scorecard on public test splits: base model",
        order=30,
        text=f"{card['n_items']} test items; judge: {card.get('grader', '?')}. The comparison "
        "with the aligned model is below.",
    )
    return result


def real_eval_aligned_stage(ctx: StageContext[Any]) -> dict[str, Any]:
    """The aligned model's scorecard on the same test split, beside the base model's."""
    run = ctx.run
    model = str(run.stage_path("aligned") / "model")
    result = _real_eval(ctx, "eval_aligned", model)
    base = run.summary("eval_base") or {}
    result["report"] = comparison_section(base, result)
    return result
