"""The guard over HTTP (FastAPI): OpenAI-compatible moderation, refusal detection, health, metrics.

Endpoints:

``POST /v1/moderations``  OpenAI's moderation API: ``{"input": str | [str | {"type": "text",
                          "text": str}], "model"?: str}`` -> ``{"id", "model", "results":
                          [{"flagged", "categories": {id: bool}, "category_scores": {id:
                          float}, "score"}]}`` (``score`` is valign's P(unsafe)).
``POST /v1/classify``     valign's contract, for responses in context: ``{"input": {"prompt",
                          "response"?} | [...]}`` -> ``{"results": [{"flagged", "score",
                          "categories"}]}``.
``POST /v1/refusal``      ``{"input": str | {"prompt"?, "response"} | [...]}`` ->
                          ``{"results": [{"refusal", "refusal_score", "refusal_kind"}]}``.
``GET /health``           ``{"status": "ok", ...}``; never needs a token.
``GET /metrics``          Prometheus text: requests by endpoint and status, inputs, batches.

With a token set, ``/v1/*`` needs ``Authorization: Bearer TOKEN``. Request bodies are capped
in bytes, inputs per request and characters per input. Every mistake in a request gets a 4xx
JSON error in OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``), never a
500. Concurrent requests are served in micro-batches: each input waits at most a few
milliseconds for others to join its batch, and one worker thread runs the model.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from valign.guard.types import GuardBackend, GuardInput, GuardVerdict

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ServerSettings:
    """Limits and options of the guard server.

    Attributes:
        token: Bearer token required on ``/v1/*`` (None: open).
        max_body_bytes: Largest request body accepted (413 above).
        max_inputs: Most inputs in one request (400 above).
        max_chars: Longest single input, in characters (400 above).
        batch_size: Most inputs the model sees in one micro-batch.
        batch_wait_ms: How long an input waits for others to join its batch.
        model_name: The ``model`` reported in moderation responses.
    """

    token: str | None = None
    max_body_bytes: int = 1_000_000
    max_inputs: int = 256
    max_chars: int = 32_000
    batch_size: int = 64
    batch_wait_ms: float = 4.0
    model_name: str = "valign-guard"


class ApiError(Exception):
    """A request mistake: becomes a JSON error with this status."""

    def __init__(
        self, status: int, message: str, code: str, param: str | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.kind = kind or ("authentication_error" if status == 401 else "invalid_request_error")


def error_body(message: str, kind: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class MicroBatcher(Generic[T, R]):
    """Collects items from concurrent requests into batches for one worker thread."""

    def __init__(self, fn: Callable[[list[T]], list[R]], max_batch: int, wait_ms: float) -> None:
        self.fn, self.max_batch, self.wait = fn, max_batch, wait_ms / 1000
        self.queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guard")
        self.task: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, items: Sequence[T]) -> list[R]:
        if self.queue is None:
            raise RuntimeError("the batcher is not started")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            fut: asyncio.Future[R] = loop.create_future()
            self.queue.put_nowait((item, fut))
            futures.append(fut)
        return list(await asyncio.gather(*futures))

    async def _loop(self) -> None:
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.wait
            while len(batch) < self.max_batch:
                if not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), remaining))
                except TimeoutError:
                    break
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not live:
                continue
            try:
                results = await loop.run_in_executor(
                    self.executor, self.fn, [item for item, _ in live]
                )
            except Exception as exc:  # fail this batch's requests, keep serving
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(live)
            for (_, fut), result in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(result)


# --------------------------------------------------------------------------- request parsing


async def read_json(request: Any, settings: ServerSettings) -> Any:
    """The request's JSON body, within the size limit; ApiError for every kind of mistake."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise ApiError(400, "invalid Content-Length header", "invalid_header") from None
        if declared > settings.max_body_bytes:
            raise _too_large(settings)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.max_body_bytes:
            raise _too_large(settings)
    if not body:
        raise ApiError(400, "request body is empty; send a JSON object", "empty_body")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not valid UTF-8", "invalid_encoding") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc.msg}", "invalid_json") from None


def _too_large(settings: ServerSettings) -> ApiError:
    return ApiError(
        413, f"request body is larger than {settings.max_body_bytes} bytes", "request_too_large"
    )


def _as_list(value: Any, param: str, settings: ServerSettings) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ApiError(400, f"'{param}' must not be an empty list", "empty_input", param)
    if len(items) > settings.max_inputs:
        raise ApiError(
            400,
            f"'{param}' has {len(items)} items; at most {settings.max_inputs} per request",
            "too_many_inputs",
            param,
        )
    return items


def _text(value: Any, param: str, settings: ServerSettings) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"'{param}' must be a string", "invalid_type", param)
    if len(value) > settings.max_chars:
        raise ApiError(
            400,
            f"'{param}' is {len(value)} characters; at most {settings.max_chars}",
            "input_too_long",
            param,
        )
    return value


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object", "invalid_type")
    if "input" not in body:
        raise ApiError(400, "missing required field 'input'", "missing_field", "input")
    return body


def parse_moderation(body: Any, settings: ServerSettings) -> list[str]:
    """Texts of an OpenAI moderation request (strings or text parts)."""
    raw = _object(body)["input"]
    if isinstance(raw, dict):
        raw = [raw]
    texts = []
    for k, item in enumerate(_as_list(raw, "input", settings)):
        param = f"input[{k}]" if isinstance(raw, list) else "input"
        if isinstance(item, dict):
            if item.get("type") != "text":
                raise ApiError(
                    400,
                    f"'{param}': only text inputs are supported (type 'text')",
                    "unsupported_input_type",
                    param,
                )
            item = item.get("text")
            param += ".text"
        texts.append(_text(item, param, settings))
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "'model' must be a string", "invalid_type", "model")
    return texts


def parse_pairs(body: Any, settings: ServerSettings, require_response: bool) -> list[GuardInput]:
    """(prompt, response) inputs of ``/v1/classify`` and ``/v1/refusal``."""
    raw = _object(body)["input"]
    out = []
    for k, item in enumerate(_as_list(raw, "input", settings)):
        param = f"input[{k}]" if isinstance(raw, list) else "input"
        if isinstance(item, str):
            item = {"response": item} if require_response else {"prompt": item}
        if not isinstance(item, dict):
            raise ApiError(400, f"'{param}' must be an object or a string", "invalid_type", param)
        unknown = set(item) - {"prompt", "response"}
        if unknown:
            raise ApiError(
                400,
                f"'{param}' has unknown field(s): {', '.join(sorted(unknown))}",
                "unknown_field",
                param,
            )
        if require_response and item.get("response") is None:
            raise ApiError(400, f"'{param}.response' is required", "missing_field", param)
        if not require_response and "prompt" not in item:
            raise ApiError(400, f"'{param}.prompt' is required", "missing_field", param)
        prompt = _text(item.get("prompt", ""), f"{param}.prompt", settings)
        response = item.get("response")
        if response is not None:
            response = _text(response, f"{param}.response", settings)
        out.append(GuardInput(prompt, response))
    return out


# --------------------------------------------------------------------------- app


class _Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.inputs: Counter[str] = Counter()
        self.flagged = 0
        self.seconds: dict[str, float] = {}
        self.started = time.time()

    def render(self, batchers: dict[str, MicroBatcher[Any, Any]]) -> str:
        lines = [
            "# HELP valign_guard_requests_total HTTP requests by endpoint and status.",
            "# TYPE valign_guard_requests_total counter",
        ]
        for (path, status), n in sorted(self.requests.items()):
            lines.append(f'valign_guard_requests_total{{path="{path}",status="{status}"}} {n}')
        lines += [
            "# HELP valign_guard_request_seconds_sum Time spent serving requests.",
            "# TYPE valign_guard_request_seconds_sum counter",
        ]
        for path, s in sorted(self.seconds.items()):
            lines.append(f'valign_guard_request_seconds_sum{{path="{path}"}} {s:.6f}')
        lines += ["# TYPE valign_guard_inputs_total counter"]
        for path, n in sorted(self.inputs.items()):
            lines.append(f'valign_guard_inputs_total{{path="{path}"}} {n}')
        lines += [
            "# TYPE valign_guard_flagged_total counter",
            f"valign_guard_flagged_total {self.flagged}",
            "# TYPE valign_guard_batches_total counter",
            "# TYPE valign_guard_batch_items_total counter",
        ]
        for name, b in batchers.items():
            lines.append(f'valign_guard_batches_total{{model="{name}"}} {b.batches}')
            lines.append(f'valign_guard_batch_items_total{{model="{name}"}} {b.items}')
        lines += [
            "# TYPE valign_guard_uptime_seconds gauge",
            f"valign_guard_uptime_seconds {time.time() - self.started:.1f}",
        ]
        return "\n".join(lines) + "\n"


_KNOWN_PATHS = {"/v1/moderations", "/v1/classify", "/v1/refusal", "/health", "/metrics"}


def create_app(
    guard: GuardBackend, detector: Any | None = None, settings: ServerSettings | None = None
) -> FastAPI:
    """The FastAPI app serving ``guard`` (and ``detector``, a RefusalDetector, if given)."""
    settings = settings or ServerSettings()
    metrics = _Metrics()
    guard_batcher: MicroBatcher[GuardInput, GuardVerdict] = MicroBatcher(
        guard.classify, settings.batch_size, settings.batch_wait_ms
    )
    batchers: dict[str, MicroBatcher[Any, Any]] = {"guard": guard_batcher}
    refusal_batcher: MicroBatcher[tuple[str, str], Any] | None = None
    if detector is not None:
        refusal_batcher = MicroBatcher(detector.detect, settings.batch_size, settings.batch_wait_ms)
        batchers["refusal"] = refusal_batcher

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for b in batchers.values():
            await b.start()
        try:
            yield
        finally:
            for b in batchers.values():
                await b.stop()

    app = FastAPI(
        title="valign guard",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def error(exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        body = error_body(exc.message, exc.kind, exc.code, exc.param)
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        elif exc.status_code == 404:
            message = f"no such endpoint: {request.url.path}"
        return error(ApiError(exc.status_code, message, code))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(ApiError(422, "invalid request", "invalid_request"))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        body = error_body("internal error in the guard", "server_error", "internal_error")
        return JSONResponse(body, status_code=500)

    @app.middleware("http")
    async def _count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        path = request.url.path if request.url.path in _KNOWN_PATHS else "other"
        try:
            response = await call_next(request)
        except Exception:
            metrics.requests[(path, 500)] += 1
            raise
        metrics.requests[(path, response.status_code)] += 1
        metrics.seconds[path] = metrics.seconds.get(path, 0.0) + time.perf_counter() - start
        return response

    def authorize(request: Request) -> None:
        if settings.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), settings.token.encode()
        ):
            raise ApiError(401, "missing or invalid bearer token", "invalid_api_key")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "guard": guard.name,
            "categories": list(guard.categories),
            "refusal": detector is not None,
        }

    @app.get("/metrics")
    async def get_metrics() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(batchers), media_type="text/plain; version=0.0.4")

    @app.post("/v1/moderations")
    async def moderations(request: Request) -> dict[str, Any]:
        authorize(request)
        texts = parse_moderation(await read_json(request, settings), settings)
        verdicts = await guard_batcher.submit([GuardInput(t) for t in texts])
        metrics.inputs["/v1/moderations"] += len(texts)
        metrics.flagged += sum(v.flagged for v in verdicts)
        results = [
            {
                "flagged": v.flagged,
                "categories": {c: c in v.flagged_categories for c in guard.categories},
                "category_scores": {c: v.categories.get(c, 0.0) for c in guard.categories},
                "score": v.score,
            }
            for v in verdicts
        ]
        return {"id": f"modr-{uuid.uuid4().hex}", "model": settings.model_name, "results": results}

    @app.post("/v1/classify")
    async def classify(request: Request) -> dict[str, Any]:
        authorize(request)
        inputs = parse_pairs(await read_json(request, settings), settings, require_response=False)
        verdicts = await guard_batcher.submit(inputs)
        metrics.inputs["/v1/classify"] += len(inputs)
        metrics.flagged += sum(v.flagged for v in verdicts)
        return {
            "results": [
                {"flagged": v.flagged, "score": v.score, "categories": v.categories}
                for v in verdicts
            ]
        }

    @app.post("/v1/refusal")
    async def refusal(request: Request) -> dict[str, Any]:
        authorize(request)
        if refusal_batcher is None:
            raise ApiError(404, "this server has no refusal detector", "not_available")
        inputs = parse_pairs(await read_json(request, settings), settings, require_response=True)
        results = await refusal_batcher.submit([(i.prompt, i.response or "") for i in inputs])
        metrics.inputs["/v1/refusal"] += len(inputs)
        return {"results": [r.to_dict() for r in results]}

    return app


def serve(
    guard: GuardBackend,
    detector: Any | None,
    host: str,
    port: int,
    settings: ServerSettings,
    log_level: str = "info",
) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(guard, detector, settings), host=host, port=port, log_level=log_level)
