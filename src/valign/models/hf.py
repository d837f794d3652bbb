"""`HFChatModel`: any Hugging Face causal LM with a chat template, on this machine.

Generation is batched with left padding (every prompt ends at the same column, so new
tokens are appended in lockstep); scoring is batched with right padding (every sequence
starts at position 0, so no position ids need recomputing). Batches are formed from
inputs sorted by length to cut padding, and results are returned in input order.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList
from transformers.utils import logging as hf_logging

from valign.errors import UserError
from valign.models.chat import (
    continuation_ids,
    encode,
    render_prompt,
    require_chat_template,
    truncate_at_stop,
)
from valign.models.progress import progress_bar
from valign.models.types import ContinuationScore, GenerationConfig
from valign.records.messages import Conversation


def resolve_device(device: str | torch.device | None) -> torch.device:
    """`None` or "auto" picks CUDA when present, else the CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """`None` or "auto": bfloat16 on a GPU (float16 where bf16 is unsupported), else float32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    resolved = getattr(torch, dtype, None)
    if not isinstance(resolved, torch.dtype):
        raise UserError(f"unknown dtype: {dtype} (use auto, float32, bfloat16 or float16)")
    return resolved


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@contextmanager
def quiet_hub_progress() -> Iterator[None]:
    """Hide transformers' per-shard progress bars (noise in a CLI's output), then restore."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class _StopOnStrings(StoppingCriteria):
    """Ends a row once its new text contains a stop string.

    Only the last few tokens are decoded each step (enough bytes to hold the longest stop
    string), so the check stays cheap; the exact cut is made on the full text afterwards.
    """

    def __init__(self, tokenizer: Any, stop: Sequence[str], prompt_len: int) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.prompt_len = prompt_len
        self.window = 4 * max((len(s) for s in self.stop), default=0) + 2

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        # input_ids: (batch, prompt_len + generated so far)
        start = max(self.prompt_len, input_ids.shape[1] - self.window)
        tails = self.tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
        done = [any(s in tail for s in self.stop) for tail in tails]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class HFChatModel:
    """A local Hugging Face causal LM behind the `ChatModel` interface.

    Build it from a folder or hub id with `HFChatModel(path)`, or wrap a model already in
    memory (a policy being trained) with `HFChatModel.from_model(model, tokenizer)`.

    Args:
        path: A local model folder or a hub id (`org/name`).
        device: "auto" (default: CUDA if available, else CPU) or any torch device string.
        dtype: "auto" (default: bfloat16 on GPU, float32 on CPU), or a dtype name.
        name: How results name this model; defaults to `path`.
        revision: Hub revision (branch, tag or commit) to load.
        local_files_only: Never touch the network; load from the local hub cache only.
        trust_remote_code: Allow the checkpoint's own Python code (only for sources you trust).
        score_batch_size: Sequences per forward pass in `continuation_logprobs`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        name: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        trust_remote_code: bool = False,
        score_batch_size: int = 16,
    ) -> None:
        source = str(path)
        target = resolve_device(device)
        load_kw: dict[str, Any] = {
            "revision": revision,
            "local_files_only": local_files_only,
            "trust_remote_code": trust_remote_code,
        }
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, **load_kw)
        except (OSError, ValueError) as err:
            raise UserError(f"could not load model {source}: {_first_line(err)}") from err
        # Checked before the weights load: a base model is refused in seconds, not minutes.
        require_chat_template(tokenizer, source)
        try:
            with quiet_hub_progress():
                model = AutoModelForCausalLM.from_pretrained(
                    source, dtype=resolve_dtype(dtype, target), **load_kw
                )
        except (OSError, ValueError) as err:
            raise UserError(f"could not load model {source}: {_first_line(err)}") from err
        model = model.to(target)  # type: ignore[arg-type]
        model.eval()
        self._setup(model, tokenizer, name or source, score_batch_size)

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "in-memory",
        score_batch_size: int = 16,
    ) -> HFChatModel:
        """Wrap a model already loaded (left on its device, its train/eval mode restored
        after every call). Sets the tokenizer's pad token to EOS if it has none."""
        require_chat_template(tokenizer, name)
        self = cls.__new__(cls)
        self._setup(model, tokenizer, name, score_batch_size)
        return self

    def _setup(self, model: Any, tokenizer: Any, name: str, score_batch_size: int) -> None:
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.score_batch_size = score_batch_size
        self.pad_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.eos_ids: list[int] = _eos_ids(model, tokenizer)
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters

    @property
    def device(self) -> torch.device:
        """Where inputs go (the device of the model's first parameters)."""
        return torch.device(self.model.device)

    @contextmanager
    def _inference(self) -> Iterator[None]:
        """Eval mode and no autograd for the call, then the model's own mode back."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            if was_training:
                self.model.train()

    # ---------------------------------------------------------------- generation

    def generate(
        self,
        convs: Sequence[Conversation],
        config: GenerationConfig,
        progress: bool = False,
    ) -> list[str]:
        """Reply to each conversation; see `GenerationConfig` for decoding and stop rules."""
        prompts = [encode(self.tokenizer, render_prompt(self.tokenizer, c)) for c in convs]
        # Longest first: similar lengths share a batch, and an out-of-memory shows up at once.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        batches = [
            order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)
        ]
        replies: list[str] = [""] * len(prompts)
        devices = [self.device] if self.device.type == "cuda" else []
        with (
            self._inference(),
            torch.random.fork_rng(devices=devices),
            progress_bar(len(batches), f"generating with {self.name}", progress) as advance,
        ):
            torch.manual_seed(config.seed)
            for batch in batches:
                texts = self._generate_batch([prompts[i] for i in batch], config)
                for i, text in zip(batch, texts, strict=True):
                    replies[i] = text
                advance(1)
        return replies

    def _generate_batch(self, prompts: list[list[int]], config: GenerationConfig) -> list[str]:
        seq = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), seq), self.pad_id, dtype=torch.long)  # (batch, seq)
        attention_mask = torch.zeros((len(prompts), seq), dtype=torch.long)  # (batch, seq)
        for row, p in enumerate(prompts):  # left padding: every prompt ends at column seq-1
            input_ids[row, seq - len(p) :] = torch.tensor(p, dtype=torch.long)
            attention_mask[row, seq - len(p) :] = 1
        kwargs: dict[str, Any] = {
            "max_new_tokens": config.max_new_tokens,
            "do_sample": not config.greedy,
            "pad_token_id": self.pad_id,
            "eos_token_id": self.eos_ids or None,
        }
        if not config.greedy:
            # top_k=0 switches off transformers' default top-k, so sampling means what it
            # means on an OpenAI-compatible server: temperature and top-p only.
            kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=0)
        if config.stop:
            kwargs["stopping_criteria"] = StoppingCriteriaList(
                [_StopOnStrings(self.tokenizer, config.stop, seq)]
            )
        out = self.model.generate(
            input_ids=input_ids.to(self.device),
            attention_mask=attention_mask.to(self.device),
            **kwargs,
        )  # (batch, seq + new)
        texts = []
        for row in out[:, seq:].tolist():
            cut = next((k for k, t in enumerate(row) if t in self.eos_ids), len(row))
            text = self.tokenizer.decode(row[:cut], skip_special_tokens=True)
            texts.append(truncate_at_stop(text, config.stop))
        return texts

    # ------------------------------------------------------------------- scoring

    def continuation_logprobs(
        self,
        convs: Sequence[Conversation],
        continuations: Sequence[str],
        progress: bool = False,
    ) -> list[ContinuationScore]:
        """Sum of log-probabilities of each continuation as the start of the reply.

        Token alignment: see `valign.models.chat.continuation_ids`. The prompt tokens are
        always exactly those `generate` conditions on.
        """
        if len(convs) != len(continuations):
            raise ValueError(f"{len(convs)} conversations but {len(continuations)} continuations")
        items: list[tuple[list[int], list[int]]] = []
        for conv, cont in zip(convs, continuations, strict=True):
            text = render_prompt(self.tokenizer, conv)
            prompt = encode(self.tokenizer, text)
            if not prompt:
                raise ValueError("the chat template rendered an empty prompt")
            items.append((prompt, continuation_ids(self.tokenizer, text, prompt, cont)))
        scores = [ContinuationScore(0.0, 0)] * len(items)
        todo = [i for i, (_, c) in enumerate(items) if c]
        todo.sort(key=lambda i: len(items[i][0]) + len(items[i][1]), reverse=True)
        bs = self.score_batch_size
        batches = [todo[i : i + bs] for i in range(0, len(todo), bs)]
        with (
            self._inference(),
            progress_bar(len(batches), f"scoring with {self.name}", progress) as advance,
        ):
            for batch in batches:
                sums = self._score_batch([items[i] for i in batch])
                for i, lp in zip(batch, sums, strict=True):
                    scores[i] = ContinuationScore(lp, len(items[i][1]))
                advance(1)
        return scores

    def _score_batch(self, items: list[tuple[list[int], list[int]]]) -> list[float]:
        seq = max(len(p) + len(c) for p, c in items)
        input_ids = torch.full((len(items), seq), self.pad_id, dtype=torch.long)  # (batch, seq)
        attention_mask = torch.zeros((len(items), seq), dtype=torch.long)  # (batch, seq)
        for row, (p, c) in enumerate(items):  # right padding: every sequence starts at 0
            input_ids[row, : len(p) + len(c)] = torch.tensor(p + c, dtype=torch.long)
            attention_mask[row, : len(p) + len(c)] = 1
        # The token at position t is predicted by the logits at t-1, so row r needs logits
        # from len(prompt_r)-1 on; keeping only that tail saves a (batch, seq, vocab) tensor.
        keep = max(seq - len(p) + 1 for p, _ in items)
        kwargs: dict[str, Any] = {"logits_to_keep": keep} if self._keeps_logits else {}
        logits = self.model(
            input_ids=input_ids.to(self.device),
            attention_mask=attention_mask.to(self.device),
            use_cache=False,
            **kwargs,
        ).logits  # (batch, keep or seq, vocab)
        offset = seq - logits.shape[1]
        sums = []
        for row, (p, c) in enumerate(items):
            start = len(p) - 1 - offset
            row_logits = logits[row, start : start + len(c)].float()  # (cont, vocab)
            logprobs = torch.log_softmax(row_logits, dim=-1)  # (cont, vocab)
            target = torch.tensor(c, device=logprobs.device).unsqueeze(-1)  # (cont, 1)
            sums.append(float(logprobs.gather(-1, target).sum()))
        return sums


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every token that ends a reply: the model's generation EOS ids and the tokenizer's."""
    ids: list[int] = []
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos, tokenizer.eos_token_id):
        if value is None:
            continue
        for v in value if isinstance(value, list | tuple) else [value]:
            if int(v) not in ids:
                ids.append(int(v))
    return ids
