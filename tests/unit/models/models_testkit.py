"""Test kit for valign.models: a tiny trained chat model and a local OpenAI-style server.

The model is a 2-layer Llama trained for a second or two on a handful of dialogues, so
greedy replies are deterministic and checkable ("hello" -> "world").
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from valign.models import GenerationConfig, HFChatModel

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIALS = ["<pad>", "<s>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]

DIALOGUES = [
    ("hello", "world"),
    ("how are you", "i am fine thank you"),
    ("what colour is the sky", "the sky is blue"),
    ("count", "one two three four five six seven eight nine ten"),
    ("name a fruit", "an apple"),
    ("tell me about the sea", "the sea is deep and the water is cold and salty"),
]
FILLER = (
    "the quick brown fox jumps over the lazy dog while a small bird sings in the tall "
    "green tree near the old stone bridge over the river world worlds word"
)


def train_tokenizer() -> PreTrainedTokenizerFast:
    corpus = [f"{q} {a}" for q, a in DIALOGUES] * 20 + [FILLER] * 20
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="<|end|>",
        pad_token="<pad>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def train_model(tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}, {"role": "assistant", "content": a}], tokenize=False
        )
        for q, a in DIALOGUES
    ]
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    seq = max(len(r) for r in rows)
    ids = torch.full((len(rows), seq), tokenizer.pad_token_id, dtype=torch.long)  # (batch, seq)
    mask = torch.zeros((len(rows), seq), dtype=torch.long)  # (batch, seq)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()
    return model


# ------------------------------------------------------------- OpenAI-style server


def build_app(
    model: HFChatModel,
    *,
    api_key: str | None = None,
    fail_first: int = 0,
    fail_status: int = 503,
    echo_logprobs: bool = True,
) -> Any:
    """A minimal OpenAI-compatible server around `model` (enough of vLLM's API for tests).

    `fail_first` requests answer `fail_status` before the server starts working;
    `app.state.requests` counts every request.
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI()
    app.state.requests = 0
    lock = threading.Lock()

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Any]) -> Any:
        with lock:
            app.state.requests += 1
            n = app.state.requests
        if api_key is not None and request.headers.get("authorization") != f"Bearer {api_key}":
            return JSONResponse({"error": {"message": "invalid api key"}}, status_code=401)
        if n <= fail_first:
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=fail_status)
        return await call_next(request)

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model.name, "object": "model"}]}

    def check_model(name: str) -> JSONResponse | None:
        if name != model.name:
            return JSONResponse({"error": {"message": f"no model {name}"}}, status_code=404)
        return None

    @app.post("/v1/chat/completions")
    def chat(body: dict[str, Any]) -> Any:
        if (missing := check_model(body["model"])) is not None:
            return missing
        config = GenerationConfig(
            max_new_tokens=body.get("max_tokens", 16),
            temperature=body.get("temperature", 1.0),
            top_p=body.get("top_p", 1.0),
            seed=body.get("seed", 0),
            stop=tuple(body.get("stop") or ()),
        )
        text = model.generate([body["messages"]], config)[0]
        message = {"role": "assistant", "content": text}
        return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}

    @app.post("/v1/completions")
    def completions(body: dict[str, Any]) -> Any:
        if (missing := check_model(body["model"])) is not None:
            return missing
        prompt = body["prompt"]
        ids = prompt if isinstance(prompt, list) else model.tokenizer.encode(prompt)
        with torch.inference_mode():
            logits = model.model(input_ids=torch.tensor([ids])).logits[0]  # (seq, vocab)
        logprobs = torch.log_softmax(logits.float(), dim=-1)  # (seq, vocab)
        next_id = int(logprobs[-1].argmax())
        all_ids = [*ids, next_id]
        token_lps: list[float | None] = [None]
        token_lps += [float(logprobs[t - 1, all_ids[t]]) for t in range(1, len(all_ids))]
        choice: dict[str, Any] = {"index": 0, "text": model.tokenizer.decode([next_id])}
        if body.get("echo") and echo_logprobs and body.get("logprobs") is not None:
            choice["logprobs"] = {
                "tokens": [model.tokenizer.decode([t]) for t in all_ids],
                "token_logprobs": token_lps,
            }
        return {"choices": [choice]}

    return app


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
