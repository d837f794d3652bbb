"""The model card every trainer writes beside the model it exports (``OUT/model/README.md``).

A folder that leaves valign says what it is, in the format the Hugging Face Hub reads: YAML
front matter (``base_model``, ``library_name``, ``tags``, ``datasets`` when the data came
from a hub id) and what made it — the trainer, the data and how much of it, the settings
that differ from the trainer's defaults, the steps and the final loss, the versions. How
well it is aligned is the scorecard's job: the card says which command measures it, and
``valign eval`` writes the scorecard's summary into it (``valign.evals.card``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from valign.records.runs import atomic_write_text

METHODS = {
    "SFTTrainer": ("sft", "supervised fine-tuning on demonstrations"),
    "DPOTrainer": ("dpo", "direct preference optimisation on comparisons"),
    "RewardTrainer": ("reward-model", "a reward (or cost) model on comparisons"),
    "GRPOTrainer": ("grpo", "online RL (GRPO) with a reward and a safety signal"),
    "RLOOTrainer": ("rloo", "online RL (RLOO) with a reward and a safety signal"),
}
SHOWN_ARGS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "lr_scheduler_type",
    "seed",
    "beta",
    "max_length",
)


def model_card(
    trainer_class: str,
    base: str,
    examples: int,
    args: dict[str, Any],
    result: dict[str, Any],
    versions: dict[str, str],
    source: str | None = None,
) -> str:
    """The card's markdown (see the module docstring); ``source`` is the training data's file
    or Hugging Face dataset id (a dataset id also goes into the front matter)."""
    from valign.records.sources import is_hub_id

    tag, what = METHODS.get(trainer_class, (trainer_class.lower(), trainer_class))
    base_line = f"base_model: {json.dumps(base)}\n" if base else ""
    if source and is_hub_id(source):
        base_line += f"datasets: [{json.dumps(source.partition(':')[0])}]\n"
    origin = f" from `{source}`" if source else ""
    shown = {k: args[k] for k in SHOWN_ARGS if args.get(k) not in (None, -1)}
    rows = "\n".join(f"| `{k}` | {v} |" for k, v in shown.items())
    vers = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    return (
        f"---\n{base_line}library_name: transformers\ntags: [valign, trl, {tag}]\n---\n\n"
        f"# {tag} model made with valign\n\n"
        f"Trained from `{base or 'a local model'}` by TRL's `{trainer_class}`: {what}, on "
        f"{examples} training examples{origin}.\n\n"
        f"| setting | value |\n|---|---|\n{rows}\n\n"
        f"{result.get('steps', 0)} optimiser steps in {result.get('seconds', 0):.0f} s, "
        f"final training loss {result.get('train_loss', float('nan')):.4f}.\n\n"
        "## Evaluation\n\n"
        "Not measured when it was trained. Its scorecard (harm, jailbreaks, over-refusal, "
        "helpfulness, truthfulness, bias, power-seeking) replaces this section, and the "
        "card's `model-index`, when it is evaluated:\n\n"
        "```bash\nvalign eval --model <this folder> [--tasks FILE]\n```\n\n"
        f"Versions: {vers}.\n"
    )


def write_model_card(
    trainer: Any, model_dir: Path, result: dict[str, Any], source: str | None = None
) -> Path:
    """Write the card of a finished TRL ``trainer``'s export into ``model_dir``."""
    from importlib import metadata

    config = getattr(getattr(trainer, "model", None), "config", None)
    base = str(getattr(config, "_name_or_path", "") or "")
    data = getattr(trainer, "train_dataset", None)
    versions = {}
    for pkg in ("valign", "trl", "transformers", "torch"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    text = model_card(
        type(trainer).__name__,
        base,
        len(data) if data is not None and hasattr(data, "__len__") else 0,
        trainer.args.to_dict(),
        result,
        versions,
        source,
    )
    return atomic_write_text(model_dir / "README.md", text)
