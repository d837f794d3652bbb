"""`EndpointChatModel`: any OpenAI-compatible server (vLLM, TGI, hosted APIs) over HTTP.

Generation uses `POST /chat/completions`, so the server applies the model's chat template.
Scoring uses `POST /completions` with `echo=True` and `logprobs`, which returns the
log-probability of every prompt token; the server cannot render a chat prompt for that
endpoint, so scoring needs the model's tokenizer here to render the template and send the
exact token ids. Requests run concurrently on a thread pool; 429, 5xx and connection
errors are retried with exponential backoff, a bounded number of times.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

import httpx

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

_MAX_DELAY_S = 30.0

_T = TypeVar("_T")
_R = TypeVar("_R")


class EndpointChatModel:
    """A model served behind an OpenAI-compatible HTTP API.

    Args:
        base_url: The API root, usually ending in `/v1` (e.g. `http://localhost:8000/v1`).
        model: The served model's name; `None` asks the server (`GET /models`) and takes
            the first.
        api_key: Sent as a bearer token; `load_model` reads it from `VALIGN_API_KEY` or
            `OPENAI_API_KEY`.
        concurrency: Requests in flight at once.
        timeout: Seconds to wait for one response.
        tokenizer: The served model's tokenizer (folder, hub id or tokenizer object); needed
            only by `continuation_logprobs`.
        max_retries: Retries of one request after a 429, a 5xx or a connection error.
        backoff: First retry delay in seconds; it doubles on every retry (capped at 30 s),
            unless the server sends `Retry-After`.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        *,
        tokenizer: str | Path | Any | None = None,
        max_retries: int = 4,
        backoff: float = 1.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self.name: str = model or ""
        if not self.name:
            self.name = self._first_served_model()
        self.tokenizer = _load_tokenizer(tokenizer) if tokenizer is not None else None

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> EndpointChatModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """One API call, retried on overload and network errors; errors become UserErrors."""
        url = f"{self.base_url}/{path}"
        for attempt in range(self.max_retries + 1):
            last_try = attempt == self.max_retries
            try:
                response = self._client.request(method, path, json=payload)
            except httpx.TransportError as err:
                if last_try:
                    raise UserError(
                        f"cannot reach model endpoint {url}: {err or type(err).__name__} "
                        "(is the server running and the URL right?)"
                    ) from err
                time.sleep(self._delay(attempt, None))
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                if last_try:
                    raise UserError(
                        f"model endpoint {url} kept failing after {attempt + 1} tries: "
                        f"HTTP {status}: {_snippet(response)}"
                    )
                time.sleep(self._delay(attempt, response.headers.get("retry-after")))
                continue
            if status in (401, 403):
                raise UserError(
                    f"model endpoint {url} rejected the API key (HTTP {status}); "
                    "set VALIGN_API_KEY or OPENAI_API_KEY"
                )
            if status == 404:
                served = f" and that the server serves model {self.name!r}" if self.name else ""
                raise UserError(
                    f"model endpoint {url} returned 404 Not Found: check that the base URL "
                    f"ends with /v1{served}"
                )
            if status >= 400:
                raise UserError(
                    f"model endpoint {url} refused the request: HTTP {status}: {_snippet(response)}"
                )
            try:
                return response.json()
            except ValueError as err:
                raise UserError(f"model endpoint {url} did not answer with JSON") from err
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(float(retry_after), _MAX_DELAY_S)
            except ValueError:
                pass
        return min(self.backoff * 2**attempt, _MAX_DELAY_S) * (1 + 0.25 * random.random())

    def _map(
        self, call: Callable[[_T], _R], payloads: Sequence[_T], what: str, progress: bool
    ) -> list[_R]:
        """Run `call` over payloads concurrently; results in input order; first error wins."""
        results: list[Any] = [None] * len(payloads)
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            with progress_bar(len(payloads), f"{what} with {self.name}", progress) as advance:
                futures: dict[Future[_R], int] = {
                    pool.submit(call, payload): i for i, payload in enumerate(payloads)
                }
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    advance(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    # --------------------------------------------------------------------- models

    def list_models(self) -> list[str]:
        """Names of the models the server serves (`GET /models`)."""
        data = self._request("GET", "models")
        try:
            return [str(m["id"]) for m in data["data"]]
        except (KeyError, TypeError) as err:
            raise UserError(f"model endpoint {self.base_url}/models gave no model list") from err

    def _first_served_model(self) -> str:
        names = self.list_models()
        if not names:
            raise UserError(f"model endpoint {self.base_url} serves no models")
        return names[0]

    # ----------------------------------------------------------------- generation

    def generate(
        self,
        convs: Sequence[Conversation],
        config: GenerationConfig,
        progress: bool = False,
    ) -> list[str]:
        """Reply to each conversation. Request i is seeded with `config.seed + i`, so
        repeated conversations get different samples and reruns get the same ones (where
        the server honours seeds)."""
        payloads = []
        for i, conv in enumerate(convs):
            payload: dict[str, Any] = {
                "model": self.name,
                "messages": [dict(m) for m in conv],
                "max_tokens": config.max_new_tokens,
                "temperature": config.temperature,
                "top_p": config.top_p,
                "seed": config.seed + i,
            }
            if config.stop:
                payload["stop"] = list(config.stop)
            payloads.append(payload)

        def call(payload: dict[str, Any]) -> str:
            data = self._request("POST", "chat/completions", payload)
            try:
                content = data["choices"][0]["message"].get("content") or ""
            except (KeyError, IndexError, TypeError, AttributeError) as err:
                raise UserError(
                    f"model endpoint {self.base_url}/chat/completions gave an unexpected answer"
                ) from err
            text = truncate_at_stop(str(content), config.stop)
            return self._cut(text, config.max_new_tokens)

        return self._map(call, payloads, "generating", progress)

    def _cut(self, text: str, max_new_tokens: int) -> str:
        """The reply cut to `max_new_tokens` here too, so a server that ignores `max_tokens`
        cannot hand a longer reply to the grader: in tokens of the model's tokenizer when
        there is one, else in whitespace-separated words (never fewer than tokens)."""
        if self.tokenizer is not None:
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            if len(ids) <= max_new_tokens:
                return text
            return str(self.tokenizer.decode(ids[:max_new_tokens], skip_special_tokens=True))
        words = text.split()
        return text if len(words) <= max_new_tokens else " ".join(words[:max_new_tokens])

    # -------------------------------------------------------------------- scoring

    def continuation_logprobs(
        self,
        convs: Sequence[Conversation],
        continuations: Sequence[str],
        progress: bool = False,
    ) -> list[ContinuationScore]:
        """Sum of log-probabilities of each continuation as the start of the reply.

        The prompt is rendered and tokenized here with `tokenizer`, then the token ids of
        prompt + continuation are sent to `/completions` with `echo=True, logprobs=1,
        max_tokens=1`; the server's per-token log-probabilities over the continuation's
        positions are summed. Needs a server that returns echoed prompt log-probabilities
        (vLLM does).
        """
        if len(convs) != len(continuations):
            raise ValueError(f"{len(convs)} conversations but {len(continuations)} continuations")
        tokenizer = self.tokenizer
        if tokenizer is None:
            raise UserError(
                f"scoring with endpoint model {self.name} needs its tokenizer to render the chat "
                "template: pass tokenizer=<folder or hub id> to EndpointChatModel / load_model"
            )
        items: list[tuple[list[int], list[int]]] = []
        for conv, cont in zip(convs, continuations, strict=True):
            text = render_prompt(tokenizer, conv)
            prompt = encode(tokenizer, text)
            items.append((prompt, continuation_ids(tokenizer, text, prompt, cont)))

        def call(item: tuple[list[int], list[int]]) -> ContinuationScore:
            prompt, cont = item
            if not cont:
                return ContinuationScore(0.0, 0)
            payload = {
                "model": self.name,
                "prompt": prompt + cont,
                "max_tokens": 1,
                "temperature": 0.0,
                "echo": True,
                "logprobs": 1,
            }
            data = self._request("POST", "completions", payload)
            logprobs = _echoed_logprobs(data, prompt + cont)
            if logprobs is None:
                raise UserError(
                    f"model endpoint {self.base_url}/completions returned no prompt "
                    "log-probabilities; scoring needs a server that supports echo=True with "
                    "logprobs on /completions (vLLM does)"
                )
            picked = logprobs[len(prompt) : len(prompt) + len(cont)]
            return ContinuationScore(float(sum(picked)), len(cont))

        return self._map(call, items, "scoring", progress)


def _echoed_logprobs(data: Any, ids: list[int]) -> list[float] | None:
    """Per-token prompt log-probabilities from a `/completions` answer, or None if absent.

    Reads the OpenAI echo format (`logprobs.token_logprobs`) and vLLM's `prompt_logprobs`
    (one `{token_id: {"logprob": ...}}` per position). Position 0 has no log-probability.
    """
    try:
        choice = data["choices"][0]
    except (KeyError, IndexError, TypeError):
        return None
    values: list[Any] | None = None
    token_logprobs = (choice.get("logprobs") or {}).get("token_logprobs")
    if isinstance(token_logprobs, list) and len(token_logprobs) >= len(ids):
        values = token_logprobs[: len(ids)]
    elif isinstance(choice.get("prompt_logprobs"), list) and len(choice["prompt_logprobs"]) >= len(
        ids
    ):
        values = []
        for tok, entry in zip(ids, choice["prompt_logprobs"], strict=False):
            found = (entry or {}).get(str(tok)) if isinstance(entry, dict) else None
            values.append(found.get("logprob") if isinstance(found, dict) else None)
    if values is None or any(v is None for v in values[1:]):
        return None
    return [0.0 if v is None else float(v) for v in values]


def _load_tokenizer(tokenizer: str | Path | Any) -> Any:
    """A tokenizer object from a folder or hub id (objects are passed through)."""
    if not isinstance(tokenizer, str | Path):
        require_chat_template(tokenizer, "the endpoint model")
        return tokenizer
    from transformers import AutoTokenizer

    try:
        loaded = AutoTokenizer.from_pretrained(str(tokenizer))
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"could not load tokenizer {tokenizer}: {first}") from err
    require_chat_template(loaded, str(tokenizer))
    return loaded


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text[:limit] + ("…" if len(text) > limit else "")
