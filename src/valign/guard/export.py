"""``valign guard export``: a saved guard as a folder that loads without valign.

A guard folder (``guard.json`` and ``head.safetensors``) loads only in valign. The export is
a sentence-transformers folder: the packaged all-MiniLM-L6-v2 as the library's own
``Transformer`` module (weights and tokenizer copied unchanged, truncation as the guard's),
then two small modules from :mod:`valign.guard.export_modules`, copied into the folder as
``guard_modules.py``: the guard's pooling (mean and max, each normalised) and its calibrated
head, with the category names (``id2label``) and thresholds. ``SentenceTransformer(folder,
trust_remote_code=True).encode(prompts)`` returns valign's per-category probabilities.

Why this format: the guard normalises the mean- and max-pooled halves of its embedding each
on its own and averages the probabilities of several MLP heads; no built-in module of
sentence-transformers, nor any sequence-classification model of transformers, computes
that, so any faithful export needs a few lines of code beside the weights. A
sentence-transformers folder keeps that code to pooling and head: the transformer itself is
the library's stock module on the published weights.

The folder also holds a model card (``README.md``: loading, labels, thresholds, licences)
and the guard's data notices.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from valign.errors import UserError
from valign.guard import export_modules
from valign.guard.classifier import RESPONSE_WITH_ATTEMPT, load_head
from valign.guard.encoder import ENCODER_NAME, encoder_path
from valign.guard.export_modules import GuardHead, GuardPooling
from valign.guard.head import read_guard_config
from valign.guard.metrics import headline

FORMATS = ("sentence-transformers",)
#: The file ``export_modules`` is copied to; ``modules.json`` names its classes from it.
MODULES_FILE = "guard_modules.py"
POOLING_DIR = "1_GuardPooling"
HEAD_DIR = "2_GuardHead"
#: The encoder's files an export copies (tokenizer and weights), from the packaged model.
ENCODER_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
#: Files of a guard folder that travel with it (data notices and licences).
NOTICE_GLOB = "DATA-*"
TEMPLATE = Path(__file__).with_name("templates") / "model_card.md.j2"


def export_guard(guard_dir: str | Path, out: str | Path, fmt: str = FORMATS[0]) -> Path:
    """Write the classifier saved in ``guard_dir`` to ``out`` in format ``fmt``.

    ``out`` must not exist yet, or be empty; the folder appears only when it is complete.
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r} (use one of {', '.join(FORMATS)})")
    source, target = Path(guard_dir), Path(out)
    config = read_guard_config(source)
    if config.get("backend") != "classifier":
        raise UserError(f"{source} holds a {config.get('backend')!r} guard, not a classifier")
    encoder = config["encoder"]
    if encoder.get("name", ENCODER_NAME) != ENCODER_NAME:
        raise UserError(f"{source}'s encoder is {encoder['name']}; only {ENCODER_NAME} exports")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"{target} already exists; export into a new folder")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _write_sentence_transformers(source, config, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if target.exists():
        target.rmdir()
    partial.rename(target)
    return target


def guard_head(source: Path, config: dict[str, Any]) -> GuardHead:
    """The portable head holding exactly the weights, labels and thresholds of ``source``'s."""
    ensemble = load_head(source, config)
    labels = ["unsafe", *config["categories"]]
    head = GuardHead(
        dim=int(config["encoder"]["dim"]),
        labels=labels,
        thresholds={k: float(config["thresholds"][k]) for k in labels},
        hidden=ensemble.hidden,
        members=len(ensemble.members),
        **_provenance(config),
    )
    with torch.no_grad():
        for k, member in enumerate(ensemble.members):
            linears = [m for m in member.modules() if isinstance(m, torch.nn.Linear)]
            if head.hidden:
                head.w_hidden[k].copy_(linears[0].weight)
                head.b_hidden[k].copy_(linears[0].bias)
            head.w_out[k].copy_(linears[-1].weight)
            head.b_out[k].copy_(linears[-1].bias)
    head.eval()
    return head


def _provenance(config: dict[str, Any]) -> dict[str, Any]:
    """Where the head came from, kept in its config (not read by the modules)."""
    keys = ("valign_version", "recipe", "created", "constitution", "target_fpr")
    return {
        "source": {
            "exported_by": "valign guard export",
            "encoder": ENCODER_NAME,
            **{k: config[k] for k in keys if k in config},
            "response_score": config.get("response_score", "head"),
        }
    }


def _write_sentence_transformers(source: Path, config: dict[str, Any], folder: Path) -> None:
    encoder = config["encoder"]
    max_length = int(encoder["max_length"])
    folder.mkdir(parents=True)
    _copy_encoder(folder, max_length)
    model_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    pooling = GuardPooling(int(model_config["hidden_size"]), str(encoder.get("pooling", "mean")))
    if pooling.get_sentence_embedding_dimension() != int(encoder["dim"]):
        raise UserError(f"{source}'s encoder settings do not match the packaged encoder")
    pooling.save(str(folder / POOLING_DIR))
    head = guard_head(source, config)
    head.save(str(folder / HEAD_DIR))
    shutil.copyfile(export_modules.__file__, folder / MODULES_FILE)
    _write_json(folder / "modules.json", _modules())
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_length})
    _write_json(folder / "config_sentence_transformers.json", _st_config())
    notices = [p for p in sorted(source.glob(NOTICE_GLOB)) if p.is_file()]
    for notice in notices:
        shutil.copyfile(notice, folder / notice.name)
    card = model_card(config, head, [p.name for p in notices])
    (folder / "README.md").write_text(card, encoding="utf-8")


def _copy_encoder(folder: Path, max_length: int) -> None:
    """The packaged MiniLM's weights and tokenizer; the tokenizer truncates as the guard does."""
    packaged = encoder_path()
    for name in ENCODER_FILES:
        if (packaged / name).is_file():
            shutil.copyfile(packaged / name, folder / name)
    tok_path = folder / "tokenizer_config.json"
    tok = json.loads(tok_path.read_text(encoding="utf-8")) if tok_path.is_file() else {}
    tok["model_max_length"] = max_length
    _write_json(tok_path, tok)


def _modules() -> list[dict[str, Any]]:
    stem = Path(MODULES_FILE).stem
    return [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": POOLING_DIR, "type": f"{stem}.GuardPooling"},
        {"idx": 2, "name": "2", "path": HEAD_DIR, "type": f"{stem}.GuardHead"},
    ]


def _st_config() -> dict[str, Any]:
    versions = {}
    for key, dist in (
        ("sentence_transformers", "sentence-transformers"),
        ("transformers", "transformers"),
        ("pytorch", "torch"),
    ):
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {"__version__": versions, "model_type": "SentenceTransformer", "prompts": {}}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def model_card(config: dict[str, Any], head: GuardHead, notices: list[str]) -> str:
    """The export's ``README.md``: what it is, how to load it, its labels and licences."""
    import jinja2

    names = _category_names(str(config.get("constitution", "default")))
    names["unsafe"] = ("Unsafe", "Anything the policy forbids, in any category or none.")
    labels = [
        {
            "index": k,
            "id": label,
            "name": names.get(label, (label, ""))[0],
            "covers": names.get(label, (label, ""))[1],
            "threshold": f"{head.thresholds[label]:.4f}",
        }
        for k, label in enumerate(head.labels)
    ]
    metrics = [
        (label, f"{value:.3f}")
        for label, value in headline(config.get("metrics", {}))
        if value is not None and not label.startswith("refusal")
    ]
    env = jinja2.Environment(
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False
    )  # Markdown, not HTML
    return env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        encoder=ENCODER_NAME,
        labels=labels,
        head=head,
        max_length=int(config["encoder"]["max_length"]),
        pooling=config["encoder"].get("pooling", "mean"),
        source=head.metadata["source"],
        metrics=metrics,
        with_attempt=config.get("response_score") == RESPONSE_WITH_ATTEMPT,
        notices=[f"`{name}`" for name in notices],
        modules_file=MODULES_FILE,
        head_dir=HEAD_DIR,
        pooling_dir=POOLING_DIR,
    )


def _category_names(constitution: str) -> dict[str, tuple[str, str]]:
    """Category id -> (name, policy text) from the guard's constitution; empty if it is gone."""
    from valign.values import load_constitution

    try:
        loaded = load_constitution(constitution)
    except UserError:
        return {}
    return {c.id: (c.name, c.description) for c in loaded.categories}
