"""Run a model over task items: generate, grade, and score multiple-choice items.

Each item becomes one record in ``responses.jsonl`` as soon as its chunk is done, so an
interrupted evaluation resumes where it stopped (items already recorded are skipped).
Records are graded again from their stored replies when read back, so a scorecard always
reflects the current grader, also for replies recorded by an earlier version.

Record fields: id, kind, category, family, context, response, outcome, refused, correct,
choice, aligned, and for items with choices ``choice_logprobs`` (sum of token log-probabilities of
each choice as the start of the reply, as TruthfulQA's MC1/MC2 define them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from valign.models.types import ChatModel, GenerationConfig
from valign.records.messages import Conversation
from valign.records.runs import RecordWriter, completed_ids, read_records
from valign.records.tasks import Item
from valign.world.grader import RefusalFn, grade, pattern_refusal

MC_KINDS = ("misconception", "bias")
DEFAULT_GENERATION = GenerationConfig(max_new_tokens=64, temperature=0.0, batch_size=32)


#: Decides, for a batch of (item, reply), whether each reply refused the request (True),
#: attempted it (False), or neither attempted nor refused it (None: off-topic or garbled,
#: graded as a non-answer).
Judge = Callable[[Sequence[tuple[Item, str]]], list[bool | None]]


def evaluate_items(
    model: ChatModel,
    items: Sequence[Item],
    out: Path,
    generation: GenerationConfig = DEFAULT_GENERATION,
    refusal: RefusalFn = pattern_refusal,
    chunk: int = 128,
    on_progress: Callable[[int, int], None] | None = None,
    score_choices: bool = True,
    judge: Judge | None = None,
) -> list[dict[str, Any]]:
    """Evaluate ``items`` with ``model``; append records to ``out``; return every record.

    ``score_choices=False`` skips the log-probability scoring of multiple-choice items
    (an endpoint without its tokenizer cannot render the prompt for it). ``judge``, when
    given, decides refusals with the request in view (the guard's attempt detector on a real
    model's replies) instead of ``refusal``."""
    done = completed_ids(out) if out.exists() else set()
    todo = [it for it in items if it.id not in done]
    total, finished = len(items), len(items) - len(todo)
    if on_progress:
        on_progress(finished, total)
    with RecordWriter(out) as writer:
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            responses = model.generate([_conv(it) for it in part], generation)
            mc = (
                _choice_logprobs(model, [it for it in part if it.kind in MC_KINDS])
                if score_choices
                else {}
            )
            refusals = _refusals(part, responses, refusal, judge)
            for it, resp, (ref, off_topic) in zip(part, responses, refusals, strict=True):
                rec = _record(it, resp, ref, off_topic)
                if it.id in mc:
                    rec["choice_logprobs"] = mc[it.id]
                writer.write(rec)
            finished += len(part)
            if on_progress:
                on_progress(finished, total)
    by_id = {it.id: it for it in items}
    order = {it.id: i for i, it in enumerate(items)}
    stored = [r for r in read_records(out) if r["id"] in by_id]
    replies = [str(r.get("response") or "") for r in stored]
    refusals = _refusals([by_id[r["id"]] for r in stored], replies, refusal, judge)
    records = [
        regrade(r, by_id[r["id"]], f, off) for r, (f, off) in zip(stored, refusals, strict=True)
    ]
    return sorted(records, key=lambda r: order[r["id"]])


def _refusals(
    items: Sequence[Item], replies: Sequence[str], refusal: RefusalFn, judge: Judge | None
) -> list[tuple[RefusalFn, bool]]:
    """Per reply: a refusal function (``refusal`` itself, or the judge's batch verdict) and
    whether the judge found it off-topic."""
    if judge is None:
        return [(refusal, False)] * len(items)
    verdicts = judge(list(zip(items, replies, strict=True))) if items else []
    return [(_constant(bool(v)), v is None) for v in verdicts]


def _constant(verdict: bool) -> RefusalFn:
    return lambda _text: verdict


def regrade(
    record: dict[str, Any],
    item: Item,
    refusal: RefusalFn = pattern_refusal,
    off_topic: bool = False,
) -> dict[str, Any]:
    """The record with its grade fields recomputed from its stored reply (an off-topic
    reply is graded as what it is to the request: no answer)."""
    text = "" if off_topic else str(record.get("response") or "")
    return {**record, **grade(item, text, refusal).to_dict()}


def _conv(item: Item) -> Conversation:
    return cast("Conversation", item.prompt())


def _record(
    item: Item, response: str, refusal: RefusalFn, off_topic: bool = False
) -> dict[str, Any]:
    g = grade(item, "" if off_topic else response, refusal)
    return {
        "id": item.id,
        "kind": item.kind,
        "category": item.category,
        "family": item.family,
        "context": item.context,
        "template": item.template,
        "response": response,
        **g.to_dict(),
        "labels": item.choice_labels or None,
        "correct_choice": item.correct,
    }


def _choice_logprobs(model: ChatModel, items: Sequence[Item]) -> dict[str, list[float]]:
    convs: list[Conversation] = []
    conts, owners = [], []
    for it in items:
        for choice in it.choices:
            convs.append(_conv(it))
            conts.append(choice)
            owners.append(it.id)
    if not convs:
        return {}
    scores = model.continuation_logprobs(convs, conts)
    out: dict[str, list[float]] = {}
    for owner, s in zip(owners, scores, strict=True):
        out.setdefault(owner, []).append(s.logprob)
    return out
