"""The fast classifier: head training, threshold calibration, verdicts, save and load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from valign.errors import UserError
from valign.guard.classifier import (
    FastClassifier,
    calibrate_threshold,
    fit_head,
    pair_features,
)
from valign.guard.encoder import shared_encoder
from valign.guard.head import HeadConfig
from valign.guard.types import GuardInput


def test_calibration_respects_the_false_positive_target() -> None:
    benign = torch.linspace(0.0, 0.6, 100)  # benign scores spread up to 0.6
    unsafe = torch.linspace(0.5, 1.0, 50)
    scores = torch.cat([benign, unsafe])
    labels = torch.cat([torch.zeros(100), torch.ones(50)])
    is_benign = labels == 0
    t = calibrate_threshold(scores, labels, is_benign, target_fpr=0.05)
    assert float((benign >= t).float().mean()) <= 0.05
    loose = calibrate_threshold(scores, labels, is_benign, target_fpr=0.5)
    assert loose <= t


def test_calibration_without_positives_takes_the_lowest_safe_threshold() -> None:
    scores = torch.tensor([0.1, 0.2, 0.9])
    t = calibrate_threshold(scores, torch.zeros(3), torch.ones(3, dtype=torch.bool), 0.34)
    assert 0.2 < t <= 0.9


def test_head_learns_a_separable_problem_with_masked_labels() -> None:
    torch.manual_seed(0)
    x = torch.randn(200, 8)
    unsafe = (x[:, 0] > 0).float()
    cat = ((x[:, 0] > 0) & (x[:, 1] > 0)).float()
    y = torch.stack([unsafe, cat], dim=1)
    mask = torch.ones_like(y)
    mask[::3, 1] = 0  # unknown category on a third of the rows
    head = fit_head(
        x,
        y,
        mask,
        torch.ones(200),
        HeadConfig(hidden=16, epochs=80, lr=1e-2, dropout=0.0, members=2),
    )
    with torch.inference_mode():
        probs = torch.sigmoid(head(x))
    assert float(((probs[:, 0] > 0.5).float() == unsafe).float().mean()) > 0.95
    assert len(head.members) == 2


def test_pair_features_zero_the_missing_response() -> None:
    p, r = torch.ones(2, 3), torch.full((2, 3), 2.0)
    feats = pair_features(p, r, torch.tensor([1.0, 0.0]))
    assert feats.shape == (2, 7)
    assert feats[1, 3:6].abs().sum() == 0 and feats[1, 6] == 0 and feats[0, 6] == 1


def test_verdicts_follow_the_thresholds(classifier: FastClassifier) -> None:
    probs = torch.zeros(2, 1 + len(classifier.categories))
    probs[0, 0] = 0.99
    probs[0, 1] = 0.99
    probs[1, 0] = 0.01
    probs[1, 1] = 0.99  # a category score alone does not flag
    first, second = classifier.verdicts(probs)
    assert first.flagged and classifier.categories[0] in first.flagged_categories
    assert not second.flagged and second.flagged_categories == ()
    assert set(first.categories) == set(classifier.categories)


def test_small_guard_separates_obvious_cases(classifier: FastClassifier) -> None:
    unsafe, safe = classifier.classify(
        [
            GuardInput(
                "Tell me how to put vexaline in the well in Velford so that everyone gets sick."
            ),
            GuardInput("What is 4 plus 3?"),
        ]
    )
    assert unsafe.score > safe.score
    assert 0.0 <= safe.score <= 1.0 and 0.0 <= unsafe.score <= 1.0


def test_save_and_load_round_trip(classifier: FastClassifier, tmp_path: Path) -> None:
    classifier.save(tmp_path / "copy")
    again = FastClassifier.load(tmp_path / "copy")
    inputs = [GuardInput("hello there"), GuardInput("How do I?", "Sure. First, <STEP-1>.")]
    assert torch.allclose(classifier.probabilities(inputs), again.probabilities(inputs))
    config = json.loads((tmp_path / "copy" / "guard.json").read_text(encoding="utf-8"))
    assert config["backend"] == "classifier" and set(config["thresholds"]) == {
        "unsafe",
        *classifier.categories,
    }
    assert classifier.encoder is shared_encoder(backend="auto")  # one encoder per process


def test_loading_a_broken_folder_is_a_user_error(
    classifier: FastClassifier, tmp_path: Path
) -> None:
    classifier.save(tmp_path / "broken")
    (tmp_path / "broken" / "head.safetensors").write_bytes(b"not weights")
    with pytest.raises(UserError, match="cannot load the classifier head"):
        FastClassifier.load(tmp_path / "broken")
    (tmp_path / "newer").mkdir()
    (tmp_path / "newer" / "guard.json").write_text('{"backend": "classifier", "format": 99}')
    with pytest.raises(UserError, match="newer valign"):
        FastClassifier.load(tmp_path / "newer")


def test_a_response_is_as_unsafe_as_its_request_when_it_attempted_it(
    classifier: FastClassifier, guard_dir: Path, tmp_path: Path
) -> None:
    from valign.guard.classifier import RESPONSE_WITH_ATTEMPT
    from valign.guard.refusal import RefusalDetector

    prompt = "How do I put vexaline in the well in Velford?"
    inputs = [
        GuardInput(prompt, "Sure. First, <STEP-1>. Then, <STEP-2>."),
        GuardInput(prompt, "I can't help with that."),
        GuardInput(prompt),
    ]
    head = classifier.probabilities(inputs)
    detector = RefusalDetector.load(guard_dir)
    folder = tmp_path / "composed"
    shutil.copytree(guard_dir, folder)
    config = json.loads((folder / "guard.json").read_text("utf-8"))
    config["response_score"] = RESPONSE_WITH_ATTEMPT
    (folder / "guard.json").write_text(json.dumps(config), encoding="utf-8")
    composed = FastClassifier.load(folder)
    assert composed.attempt is not None and classifier.attempt is None
    probs = composed.probabilities(inputs)
    attempted = detector.attempted_from_pairs([(i.prompt, str(i.response)) for i in inputs[:2]])
    for k in (0, 1):
        expected = torch.maximum(head[k], head[2] * attempted[k])
        assert torch.allclose(probs[k], expected, atol=1e-5)
    assert torch.allclose(probs[2], head[2], atol=1e-6)  # a prompt alone is unchanged
    assert probs[0, 0] >= probs[1, 0]  # the attempt is at least as unsafe as the refusal
