"""The stages of the real-model profile (``valign demo --profile smollm2``).

    model         the packaged model as a cached Hugging Face folder       -> model/
    tasks         public benchmarks' train and test splits as task files    -> tasks/
    eval_base     scorecard of the base model on the test split             -> eval_base/
    replies       the base model's replies to the train split               -> replies/
    data          alignment data: the constitution + those replies          -> data/
    sft           LoRA SFT on the demonstrations                            -> sft/model
    dpo           LoRA DPO on the comparisons, from the SFT model (opt-in)  -> dpo/model
    aligned       the final model, merged, at a fixed path                  -> aligned/model
    eval_aligned  scorecard of the aligned model on the same test split    -> eval_aligned/

Nothing evaluated is trained on: the test split is the benchmarks' own documented test
split (``valign tasks list``), and a training prompt whose normalised text equals a test
prompt's (the benchmarks overlap) is dropped before the base model answers it. Harmful
requests the base model attempted become refusal demonstrations (the constitution's
refusal); safe requests it answered keep its own answer, so helpfulness is not trained away.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console

from valign.models.progress import steps_bar
from valign.records.runs import RunDir, atomic_write_json, read_records
from valign.records.tasks import Item, dump_items, load_items
from valign.report import format_value
from valign.report.sections import section, table
from valign.train.stage import curve_plot

#: Public sources of the test split, as named in the report.
SOURCE_TITLES = {
    "harmbench": "HarmBench",
    "strongreject": "StrongREJECT",
    "donotanswer": "Do-Not-Answer",
    "truthfulqa": "TruthfulQA",
    "bbq": "BBQ",
    "own": "valign everyday requests",
}


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def base_model(run: RunDir) -> str:
    """The base model's folder (or hub id), as the model stage recorded it."""
    return str((run.summary("model") or {})["model"])


def stage_model(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    """A packaged model (``valign models list``) converted once into the user cache."""
    from valign.models.packaged import ensure_packaged, is_packaged

    if is_packaged(cfg.model):
        folder = str(ensure_packaged(cfg.model, say=console.print))
    else:
        folder = cfg.model
    return {
        "model": folder,
        "report": section(
            "Base model",
            order=12,
            text=f"{cfg.model}: the Hugging Face folder {folder}.",
        ),
    }


def _tag(item: Item, split: str, source: str) -> Item:
    meta = {**item.meta, "reply_split": split, "reply_source": source}
    return item.model_copy(update={"meta": meta})


def stage_tasks(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    """The public train and test splits, with train prompts equal to a test prompt dropped."""
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


def _eval(run: RunDir, cfg: Any, console: Console, name: str, model: str) -> dict[str, Any]:
    from valign.evals.run import EvalSettings, run_eval

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
    card = run_eval(settings, out, console=console)
    return {"scorecard": card, "by_source": by_source(out / "responses.jsonl", tasks)}


def by_source(responses: Path, tasks: str) -> dict[str, dict[str, Any]]:
    """Per public source: aligned, and the outcome counts of its records."""
    sources = {it.id: str(it.meta.get("reply_source", "")) for it in load_items(tasks)}
    out: dict[str, dict[str, Any]] = {}
    for rec in read_records(responses):
        src = sources.get(str(rec.get("id")), "")
        row = out.setdefault(src, {"n": 0, "aligned": 0, "outcomes": {}})
        row["n"] += 1
        row["aligned"] += bool(rec.get("aligned"))
        key = f"{rec['kind']}:{rec.get('outcome')}"
        row["outcomes"][key] = row["outcomes"].get(key, 0) + 1
    return dict(sorted(out.items()))


def stage_eval_base(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    result = _eval(run, cfg, console, "eval_base", base_model(run))
    card = result["scorecard"]
    result["report"] = section(
        "Scorecard on public test splits: base model",
        order=30,
        text=f"{card['n_items']} test items; judge: {card.get('grader', '?')}. The comparison "
        "with the aligned model is below.",
    )
    return result


def stage_replies(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    """The base model answers the train split (resumable), in ``valign guard replies``' format."""
    from valign.guard.real_replies import answer_items

    items = load_items(run.stage_path("tasks") / "train.jsonl")
    n = answer_items(
        base_model(run),
        items,
        run.stage("replies"),
        batch_size=cfg.batch_size,
        max_new_tokens=cfg.max_new_tokens,
        console=console,
    )
    return {
        "replies": n,
        "report": section(
            "The base model's replies to the train prompts",
            order=32,
            text=f"{n} replies (greedy, {cfg.max_new_tokens} new tokens), kept in the run "
            "folder (replies/), read by the data stage.",
        ),
    }


def balance_borderline(sft: Path, replies: Path, ratio: float) -> dict[str, int]:
    """Repeat the demonstrations that answer a borderline (sensitive but safe) request until
    they number about ``ratio`` times the refusal demonstrations.

    The refusals are new text for the model and carry most of the gradient; its own answers
    to sensitive-but-safe requests, which look like harmful ones, carry little until it
    starts refusing them. Without the balance a refusal-heavy mixture teaches it to refuse
    those too (exaggerated safety). Returns the counts and the repeat factor.
    """
    from valign.guard.real_replies import HARMFUL_KINDS
    from valign.records.runs import atomic_write_text

    kinds = {it.id: it.kind for it in load_items(replies / "tasks.jsonl")}
    rows = [json.loads(line) for line in sft.read_text("utf-8").splitlines() if line.strip()]

    def kind(row: dict[str, Any]) -> str | None:
        return kinds.get(str(row.get("provenance", {}).get("item")))

    refusals = sum(kind(r) in HARMFUL_KINDS for r in rows)
    safe = [r for r in rows if kind(r) == "borderline"]
    repeat = max(1, round(ratio * refusals / len(safe))) if safe and ratio > 0 else 1
    extra = [{**r, "id": f"{r['id']}#{k}"} for r in safe for k in range(1, repeat)]
    if extra:
        text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in extra)
        atomic_write_text(sft, sft.read_text("utf-8") + text)
    return {"refusals": refusals, "borderline": len(safe), "repeat": repeat}


def stage_data(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    from valign.data.builders import build_sets

    out, replies = run.stage("data"), run.stage_path("replies")
    summary = build_sets(out, cfg.constitution, replies=[replies])
    summary["balance"] = balance_borderline(out / "sft.jsonl", replies, cfg.balance_borderline)
    b = summary["balance"]
    rows = [[k, v] for k, v in sorted(summary["sources"].items())]
    summary["report"] = section(
        "Alignment data",
        order=33,
        text="The constitution's examples, and the base model's replies to the train prompts: "
        "a harmful request it attempted gets the constitution's refusal (and the comparison "
        "refusal over its reply); a safe request it answered keeps its own answer (and the "
        "comparison answer over refusal). No test prompt is in any of them. "
        f"{b['refusals']} refusal demonstrations; the {b['borderline']} answers to "
        f"sensitive-but-safe requests are each given {b['repeat']} times.",
        tables=[table("Records by source", ["set/source", "records"], rows)],
    )
    return summary


def _train(
    run: RunDir,
    console: Console,
    name: str,
    trainer: Any,
    inputs: tuple[str, str],
    settings: Any,
    title: str,
    text: str,
) -> dict[str, Any]:
    """Run one trainer (``sft`` or ``train_dpo``) from ``inputs`` = (model, data file)."""
    from valign.train.align import train_curves, trained_summary

    model, data = inputs
    with steps_bar(name, console) as on_step:
        result = trainer(model, Path(data), run.stage(name), settings, on_step=on_step)
    summary = trained_summary(result, curves=train_curves(result))
    plot = curve_plot(f"{title}: loss", {"loss": summary["curves"].get("loss", [])})
    summary["report"] = section(
        title,
        order={"sft": 34, "dpo": 35}.get(name, 34),
        text=f"{text} {summary['steps']} steps in {summary['seconds']:.0f} s.",
        plots=[plot] if plot else [],
    )
    return summary


def stage_sft(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    from valign.train.sft import sft

    settings = cfg.sft.model_copy(update={"seed": cfg.seed})
    rank = settings.lora.r if settings.lora else None
    return _train(
        run,
        console,
        "sft",
        sft,
        (base_model(run), str(run.stage_path("data") / "sft.jsonl")),
        settings,
        "Supervised fine-tuning" + (f" (LoRA, rank {rank})" if rank else ""),
        "The base model on the demonstrations, loss on the replies only.",
    )


def stage_dpo(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    from valign.train.dpo import train_dpo

    return _train(
        run,
        console,
        "dpo",
        train_dpo,
        (str(run.stage_path("sft") / "model"), str(run.stage_path("data") / "preferences.jsonl")),
        cfg.dpo_settings.model_copy(update={"seed": cfg.seed}),
        "Direct preference optimisation",
        "From the SFT model, on the comparisons (refusal over an attempted harmful reply, the "
        "model's own safe answer over a refusal).",
    )


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def stage_aligned(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    """The last trained model at ``aligned/model``, a path other tools can rely on."""
    last = "dpo" if cfg.dpo and run.is_done("dpo") else "sft"
    src = run.stage_path(last) / "model"
    dst = run.stage("aligned") / "model"
    if dst.exists():
        shutil.rmtree(dst)
    tmp = dst.with_name(".model.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(src, tmp, copy_function=_link_or_copy)
    tmp.rename(dst)
    atomic_write_json(
        run.stage("aligned") / "aligned.json", {"from": last, "base": base_model(run)}
    )
    return {
        "from": last,
        "model": str(dst),
        "report": section(
            "The aligned model",
            order=36,
            text=f"The {last.upper()} model, adapters merged, as a Hugging Face folder at {dst}.",
        ),
    }


def stage_eval_aligned(run: RunDir, cfg: Any, console: Console) -> dict[str, Any]:
    result = _eval(run, cfg, console, "eval_aligned", str(run.stage_path("aligned") / "model"))
    base = run.summary("eval_base") or {}
    result["report"] = comparison_section(base, result)
    return result


#: (metric, which way is better) in the before/after table.
ROWS = (
    ("aligned", "higher"),
    ("harmful_compliance", "lower"),
    ("over_refusal", "lower"),
    ("helpfulness", "higher"),
    ("truthfulness_gen", "higher"),
    ("bias_mc_accuracy", "higher"),
    ("bias_accuracy_ambiguous", "higher"),
    ("bias_accuracy_disambiguated", "higher"),
)


def _rate(row: dict[str, Any], kind: str, outcome: str) -> tuple[int, int]:
    counts = {k: v for k, v in row.get("outcomes", {}).items() if k.startswith(f"{kind}:")}
    return counts.get(f"{kind}:{outcome}", 0), sum(counts.values())


def _harm_cell(row: dict[str, Any] | None) -> str:
    if not row:
        return "-"
    complied, n = _rate(row, "harmful", "complied")
    refused, _ = _rate(row, "harmful", "refused")
    if n == 0:
        return "-"
    return f"{complied / n:.1%} ({refused} / {complied} / {n - refused - complied})"


def comparison_section(base: dict[str, Any], aligned: dict[str, Any]) -> dict[str, Any]:
    """Before/after on the public test split: headline metrics, and harm per source."""
    from valign.evals.cli import format_breakdown
    from valign.evals.scorecard import METRIC_TITLES

    cards = [base.get("scorecard", {}), aligned.get("scorecard", {})]
    rows = [
        [
            METRIC_TITLES.get(k, k),
            better,
            *(format_value(c.get("metrics", {}).get(k)) for c in cards),
            format_breakdown(cards[1].get("breakdown", {}).get(k)),
        ]
        for k, better in ROWS
        if any(c.get("metrics", {}).get(k) for c in cards)
    ]
    sources = sorted(set(base.get("by_source", {})) | set(aligned.get("by_source", {})))
    harm_rows = [
        [
            SOURCE_TITLES.get(s, s),
            _harm_cell(base.get("by_source", {}).get(s)),
            _harm_cell(aligned.get("by_source", {}).get(s)),
        ]
        for s in sources
        if _rate(base.get("by_source", {}).get(s, {}), "harmful", "complied")[1]
    ]
    return section(
        "Scorecard on public test splits: before and after alignment",
        order=37,
        text="The benchmarks' test splits, never trained on. A harmful request counts as "
        f"refused only when the judge ({cards[1].get('grader', '?')}) says the reply did not "
        "attempt it and it reads as a refusal; off-topic and garbled replies are non-answers. "
        "BBQ and TruthfulQA are capability checks; BBQ's multiple-choice accuracy is scored "
        "by log-probability. Intervals are 95%.",
        tables=[
            table(
                "Headline metrics",
                ["metric", "better", "base", "aligned", "aligned: outcomes"],
                rows,
            ),
            table(
                "Harmful-request compliance per benchmark (refused / complied / non-answer)",
                ["benchmark", "base", "aligned"],
                harm_rows,
            ),
        ],
    )
