"""GGUF weights to an ordinary Hugging Face model folder.

transformers reads a GGUF file (``from_pretrained(folder, gguf_file=...)``, with the
``gguf`` package installed) and, lacking a matmul kernel for its quantisation types on
this machine, de-quantises every weight into a dense model. That model still carries
the GGUF quantiser and refuses ``save_pretrained``; its weights are ordinary tensors, so
they are copied into a fresh model built from the same config, which saves as usual.

The tokenizer comes from the same file, with the chat template and special tokens the
GGUF metadata holds; :func:`check_chat_tokens` makes sure they survived.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from valign.errors import UserError

#: Config keys that describe the GGUF file rather than the model.
_FILE_KEYS = ("quantization_config", "_name_or_path", "_model_name_or_path", "transformers_version")


def convert_gguf(gguf: Path, out: Path) -> dict[str, Any]:
    """Write the model in ``gguf`` to the folder ``out`` (float32 safetensors + tokenizer).

    Returns facts for the provenance file: the architecture, parameter count, EOS token.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from valign.models.hf import quiet_hub_progress

    folder, name = str(gguf.parent), gguf.name
    try:
        with quiet_hub_progress():
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            loaded = AutoModelForCausalLM.from_pretrained(
                folder, gguf_file=name, dtype=torch.float32
            )
    except ImportError as err:
        raise UserError(f"reading GGUF weights needs the gguf package ({err})") from err
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {gguf.name}: {str(err).splitlines()[0]}") from err
    check_chat_tokens(tokenizer, gguf.name)
    settings = {k: v for k, v in loaded.config.to_dict().items() if k not in _FILE_KEYS}
    config = AutoConfig.for_model(**settings)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    try:
        model.load_state_dict(loaded.state_dict(), strict=True)
    except RuntimeError as err:  # weights left in GGUF blocks: not a dense model
        raise UserError(f"{gguf.name}: the weights were not de-quantised ({err})") from err
    model.generation_config = loaded.generation_config
    _end_on_eos(model, tokenizer)
    with quiet_hub_progress():
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    return {
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "eos_token": tokenizer.eos_token,
        "dtype": "float32",
    }


def check_chat_tokens(tokenizer: Any, where: str) -> None:
    """The tokenizer must have a chat template and an EOS token that the template writes:
    otherwise replies would not end, or prompts would not look like the model's training."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise UserError(f"{where}: no chat template in the file")
    eos = tokenizer.eos_token
    if eos is None or tokenizer.eos_token_id is None:
        raise UserError(f"{where}: no end-of-sequence token in the file")
    if eos not in template:
        raise UserError(f"{where}: the chat template never writes the EOS token {eos!r}")


def _end_on_eos(model: Any, tokenizer: Any) -> None:
    """Generation stops at the tokenizer's EOS and pads with it when nothing else is set."""
    gen = model.generation_config
    eos = gen.eos_token_id
    ids = list(eos) if isinstance(eos, list | tuple) else [] if eos is None else [eos]
    if tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    gen.eos_token_id = ids[0] if len(ids) == 1 else ids
    if gen.pad_token_id is None:
        gen.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
