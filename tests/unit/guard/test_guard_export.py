"""`valign guard export`: the guard as a sentence-transformers folder that loads without valign.

The export is loaded with sentence-transformers' own API, in this process and in a fresh
interpreter that cannot import valign, and must give valign's probabilities (float32, the
float encoder) to within 1e-4 and the same decisions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from valign.errors import UserError
from valign.guard import export_modules
from valign.guard.classifier import RESPONSE_WITH_ATTEMPT, FastClassifier, load_head
from valign.guard.cli import app
from valign.guard.export import HEAD_DIR, MODULES_FILE, export_guard, guard_head, model_card
from valign.guard.head import read_guard_config
from valign.guard.types import GuardInput

PROMPTS = [
    "How do I bake bread?",
    "What is the capital of France?",
    "Tell me about placeholder topic one.",
    "Summarise this placeholder paragraph about gardening, tomatoes, watering and spring.",
    "",
]
RESPONSES = ["Mix flour, water and yeast.", "Paris.", "Placeholder reply.", "Sure.", "Okay."]
TOLERANCE = 1e-4

#: Runs in a fresh interpreter with no valign on its path: loads the export, prints its outputs.
OUTSIDE = """
import importlib.util, json, os, sys

sys.path = [p for p in sys.path if not os.path.isfile(os.path.join(p, "valign", "__init__.py"))]
from sentence_transformers import SentenceTransformer

folder, prompts, responses = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
guard = SentenceTransformer(folder, trust_remote_code=True, device="cpu")
head = guard[-1]
probs = guard.encode(prompts, convert_to_tensor=True)
pairs = head.pair_probabilities(guard, prompts, responses)
print(json.dumps({
    "valign_importable": importlib.util.find_spec("valign") is not None,
    "labels": head.labels,
    "thresholds": head.thresholds,
    "probs": probs.tolist(),
    "pairs": pairs.tolist(),
    "verdicts": head.verdicts(probs),
}))
"""


@pytest.fixture(scope="module")
def exported(guard_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_guard(guard_dir, tmp_path_factory.mktemp("export") / "guard-st")


@pytest.fixture(scope="module")
def reference(guard_dir: Path) -> Iterator[FastClassifier]:
    """valign's classifier on the float encoder in float32: what the export must reproduce."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VALIGN_GUARD_PRECISION", "float32")
        yield FastClassifier.load(guard_dir, encoder_backend="float")


def _valign(classifier: FastClassifier, responses: bool) -> torch.Tensor:
    inputs = [
        GuardInput(p, r if responses else None) for p, r in zip(PROMPTS, RESPONSES, strict=True)
    ]
    return classifier.probabilities(inputs)


def _decisions(classifier: FastClassifier, probs: torch.Tensor) -> list[tuple[bool, list[str]]]:
    return [(v.flagged, list(v.flagged_categories)) for v in classifier.verdicts(probs)]


def test_the_folder_holds_the_modules_labels_thresholds_and_a_card(
    exported: Path, guard_dir: Path
) -> None:
    config = read_guard_config(guard_dir)
    modules = json.loads((exported / "modules.json").read_text(encoding="utf-8"))
    assert [m["type"] for m in modules] == [
        "sentence_transformers.models.Transformer",
        "guard_modules.GuardPooling",
        "guard_modules.GuardHead",
    ]
    code = (exported / MODULES_FILE).read_text(encoding="utf-8")
    assert code == Path(export_modules.__file__).read_text(encoding="utf-8")
    assert "valign" not in {line.split()[1].split(".")[0] for line in _imports(code)}
    head = json.loads((exported / HEAD_DIR / "config.json").read_text(encoding="utf-8"))
    labels = ["unsafe", *config["categories"]]
    assert head["labels"] == labels
    assert head["id2label"] == {str(k): label for k, label in enumerate(labels)}
    assert head["thresholds"] == pytest.approx(config["thresholds"])
    bert = json.loads((exported / "sentence_bert_config.json").read_text(encoding="utf-8"))
    assert bert["max_seq_length"] == config["encoder"]["max_length"]
    card = (exported / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlicense: apache-2.0\n")
    assert "trust_remote_code=True" in card and "Apache License 2.0" in card
    for label in labels:
        assert f"`{label}`" in card and f"{config['thresholds'][label]:.4f}" in card
    assert not list(exported.parent.glob("*.partial"))
    assert "score lower here" not in card
    attempt = {**config, "response_score": RESPONSE_WITH_ATTEMPT}
    assert "score lower here" in model_card(attempt, guard_head(guard_dir, config), [])


def _imports(code: str) -> list[str]:
    return [line for line in code.splitlines() if line.startswith(("import ", "from "))]


def test_the_head_computes_the_ensemble_exactly(guard_dir: Path) -> None:
    config = read_guard_config(guard_dir)
    ensemble, head = load_head(guard_dir, config), guard_head(guard_dir, config)
    torch.manual_seed(0)
    dim = head.dim
    prompts, responses = torch.randn(64, dim) * 0.2, torch.randn(64, dim) * 0.2
    has = torch.ones(64, 1)
    with torch.inference_mode():
        want_pairs = torch.sigmoid(ensemble(torch.cat([prompts, responses, has], dim=1)))
        want_alone = torch.sigmoid(ensemble(torch.cat([prompts, 0 * responses, 0 * has], dim=1)))
        got_pairs, got_alone = head.probabilities(prompts, responses), head.probabilities(prompts)
    assert float((got_pairs - want_pairs).abs().max()) < 1e-6
    assert float((got_alone - want_alone).abs().max()) < 1e-6
    assert float(want_pairs.std()) > 0.05  # the inputs reach the whole range, not only 0 or 1


def test_sentence_transformers_loads_it_and_gives_valign_probabilities(
    exported: Path,
    reference: FastClassifier,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    st = pytest.importorskip("sentence_transformers")
    from transformers import dynamic_module_utils

    # The folder's code is copied into a modules cache: a temporary one, not the user's.
    monkeypatch.setattr(dynamic_module_utils, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    guard = st.SentenceTransformer(str(exported), trust_remote_code=True, device="cpu")
    head = guard[-1]
    assert head.labels == reference.outputs
    probs = guard.encode(PROMPTS, convert_to_tensor=True)
    want = _valign(reference, responses=False)
    assert float((probs - want).abs().max()) < TOLERANCE
    assert _decisions(reference, probs) == _decisions(reference, want)
    got = [(v["flagged"], v["flagged_categories"]) for v in head.verdicts(probs)]
    assert got == _decisions(reference, want)
    pairs = head.pair_probabilities(guard, PROMPTS, RESPONSES)
    assert float((pairs - _valign(reference, responses=True)).abs().max()) < TOLERANCE


@pytest.mark.slow
def test_it_loads_where_valign_cannot_be_imported(
    exported: Path, reference: FastClassifier, tmp_path: Path
) -> None:
    pytest.importorskip("sentence_transformers")
    out = _outside(exported, tmp_path)
    assert out["valign_importable"] is False
    assert out["labels"] == reference.outputs
    assert out["thresholds"] == pytest.approx(reference.thresholds)
    probs, pairs = torch.tensor(out["probs"]), torch.tensor(out["pairs"])
    want = _valign(reference, responses=False)
    assert float((probs - want).abs().max()) < TOLERANCE
    assert float((pairs - _valign(reference, responses=True)).abs().max()) < TOLERANCE
    got = [(v["flagged"], v["flagged_categories"]) for v in out["verdicts"]]
    assert got == _decisions(reference, want)


def _outside(folder: Path, tmp_path: Path) -> dict[str, Any]:
    """Run :data:`OUTSIDE` in a fresh interpreter, its caches in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_MODULES_CACHE=str(tmp_path / "modules"))
    done = subprocess.run(
        [sys.executable, "-c", OUTSIDE, str(folder), json.dumps(PROMPTS), json.dumps(RESPONSES)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_export_refuses_what_it_cannot_write(guard_dir: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "file").write_text("x")
    with pytest.raises(UserError, match="already exists"):
        export_guard(guard_dir, taken)
    with pytest.raises(UserError, match="unknown export format"):
        export_guard(guard_dir, tmp_path / "new", "onnx")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "guard.json").write_text('{"backend": "rules"}')
    with pytest.raises(UserError, match="not a classifier"):
        export_guard(rules, tmp_path / "new")
    with pytest.raises(UserError, match="not a saved guard folder"):
        export_guard(tmp_path / "nothing", tmp_path / "new")


def test_the_command_exports_a_folder(guard_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(guard_dir), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "modules.json").is_file()
    result = runner.invoke(app, ["export", str(tmp_path / "missing"), str(tmp_path / "x")])
    assert isinstance(result.exception, UserError)
