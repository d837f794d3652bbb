"""The guard over HTTP (FastAPI): OpenAI-compatible moderation, refusal detection, health, metrics.

Endpoints:

``POST /v1/moderations``  OpenAI's moderation API: ``{"input": str | [str | {"type": "text",
                          "text": str}], "model"?: str}`` -> ``{"id", "model", "results":
                          [{"flagged", "categories", "category_scores",
                          "category_applied_input_types", "valign_categories",
                          "valign_category_scores", "score"}]}``: OpenAI's category names
                          (mapped from the constitution, :mod:`valign.guard.openai_categories`)
                          and valign's own category ids; ``score`` is valign's P(unsafe).
``POST /v1/classify``     valign's contract, for responses in context: ``{"input": {"prompt",
                          "response"?} | [...]}`` -> ``{"results": [{"flagged", "score",
                          "categories"}]}``.
``POST /v1/refusal``      ``{"input": str | {"prompt"?, "response"} | [...]}`` ->
                          ``{"results": [{"refusal", "refusal_score", "refusal_kind",
                          "attempt"}]}``.
``GET /health``           ``{"status": "ok", ...}``; never needs a token.
``GET /metrics``          Prometheus text (prometheus_client): request counts and latency
                          histograms by endpoint, inputs, flagged, batches
                          (:mod:`valign.guard.server_metrics`).
``GET /openapi.json``     The OpenAPI document of the endpoints above.

With a token set, ``/v1/*`` needs ``Authorization: Bearer TOKEN``. Request bodies are capped
in bytes, inputs per request and characters per input.

One client must never fail another. Every request is read and checked whole
(:mod:`valign.guard.api_input`) before any of its inputs joins a micro-batch, and every mistake
gets a 4xx JSON error in OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``).
Concurrent requests share micro-batches (:mod:`valign.guard.batching`); when the model fails
on a batch, the batch is split until only the failing inputs remain, so their own requests get
a 500 and their batch-mates their answers. No exception leaves the app: uvicorn would close
the connection, and with it a keep-alive client's next request.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from valign.guard import api_schema
from valign.guard.api_input import ApiError, error_body, parse_moderation, parse_pairs, read_json
from valign.guard.batching import InputFailed, MicroBatcher
from valign.guard.openai_categories import load_category_map, openai_fields
from valign.guard.server_metrics import CONTENT_TYPE, ServerMetrics
from valign.guard.server_settings import GuardServerSettings
from valign.guard.types import GuardBackend, GuardInput, GuardVerdict
from valign.values.schema import OPENAI_MODERATION_CATEGORIES

__all__ = ["ApiError", "GuardServerSettings", "MicroBatcher", "create_app", "error_body", "serve"]

log = logging.getLogger("valign.guard.server")


_KNOWN_PATHS = {
    "/v1/moderations",
    "/v1/classify",
    "/v1/refusal",
    "/health",
    "/metrics",
    "/openapi.json",
}


def _error_response(exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    body = error_body(exc.message, exc.kind, exc.code, exc.param)
    return JSONResponse(body, status_code=exc.status, headers=headers)


def _internal_error() -> JSONResponse:
    body = error_body("internal error in the guard", "server_error", "internal_error")
    return JSONResponse(body, status_code=500)


def _model_failed(exc: InputFailed, names: Sequence[str]) -> ApiError:
    """The 500 of a request whose input the model failed on (alone; its batch-mates did not)."""
    param = names[exc.index] if exc.index < len(names) else None
    return ApiError(500, f"the guard failed on '{param}'", "model_error", param)


def _input_names(n: int, body: Any) -> list[str]:
    many = isinstance(body, dict) and isinstance(body.get("input"), list)
    return [f"input[{k}]" for k in range(n)] if many else ["input"]


def check_category_map(mapping: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """``mapping`` with every name checked against OpenAI's categories (ValueError if not)."""
    known = set(OPENAI_MODERATION_CATEGORIES)
    for category, names in mapping.items():
        unknown = sorted(set(names) - known)
        if unknown:
            raise ValueError(f"category {category!r} maps to unknown OpenAI categories {unknown}")
    return {k: tuple(v) for k, v in mapping.items()}


def create_app(
    guard: GuardBackend,
    detector: Any | None = None,
    settings: GuardServerSettings | None = None,
    category_map: Mapping[str, Sequence[str]] | None = None,
) -> FastAPI:
    """The FastAPI app serving ``guard`` (and ``detector``, a RefusalDetector, if given).

    ``category_map`` maps the guard's category ids to OpenAI's moderation categories; by
    default, the mapping of the default constitution.
    """
    settings = settings or GuardServerSettings()
    mapping = check_category_map(load_category_map() if category_map is None else category_map)
    guard_batcher: MicroBatcher[GuardInput, GuardVerdict] = MicroBatcher(
        guard.classify, settings.batch_size, settings.batch_wait_ms
    )
    batchers: dict[str, MicroBatcher[Any, Any]] = {"guard": guard_batcher}
    refusal_batcher: MicroBatcher[tuple[str, str], Any] | None = None
    if detector is not None:
        refusal_batcher = MicroBatcher(detector.detect, settings.batch_size, settings.batch_wait_ms)
        batchers["refusal"] = refusal_batcher
    metrics = ServerMetrics(batchers)

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
        openapi_url="/openapi.json",
    )

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        elif exc.status_code == 404:
            message = f"no such endpoint: {request.url.path}"
        return _error_response(ApiError(exc.status_code, message, code))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(ApiError(422, "invalid request", "invalid_request"))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error()  # a last resort: the middleware below answers first

    @app.middleware("http")
    async def _count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        path = request.url.path if request.url.path in _KNOWN_PATHS else "other"
        in_progress = metrics.in_progress.labels(path=path)
        in_progress.inc()
        try:
            response = await call_next(request)
        except Exception:  # answer here: re-raised, it would make uvicorn drop the connection
            log.exception("unexpected error serving %s", path)
            response = _internal_error()
        finally:
            in_progress.dec()
        metrics.observe(path, response.status_code, time.perf_counter() - start)
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

    @app.get("/metrics", response_class=PlainTextResponse)
    async def get_metrics() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)

    @app.post(
        "/v1/moderations",
        response_model=None,
        openapi_extra=api_schema.body(api_schema.moderation_request(settings)),
        responses=api_schema.responses(api_schema.MODERATION_RESPONSE, 400, 401, 413, 500),
    )
    async def moderations(request: Request) -> dict[str, Any]:
        authorize(request)
        body = await read_json(request, settings)
        texts = parse_moderation(body, settings)
        try:
            verdicts = await guard_batcher.submit([GuardInput(t) for t in texts])
        except InputFailed as exc:
            raise _model_failed(exc, _input_names(len(texts), body)) from exc
        metrics.inputs.labels(path="/v1/moderations").inc(len(texts))
        metrics.flagged.inc(sum(v.flagged for v in verdicts))
        results = [
            {
                "flagged": v.flagged,
                **openai_fields(v, mapping),
                "valign_categories": {c: c in v.flagged_categories for c in guard.categories},
                "valign_category_scores": {c: v.categories.get(c, 0.0) for c in guard.categories},
                "score": v.score,
            }
            for v in verdicts
        ]
        return {"id": f"modr-{uuid.uuid4().hex}", "model": settings.model_name, "results": results}

    @app.post(
        "/v1/classify",
        response_model=None,
        openapi_extra=api_schema.body(api_schema.pairs_request(settings, require_response=False)),
        responses=api_schema.responses(api_schema.CLASSIFY_RESPONSE, 400, 401, 413, 500),
    )
    async def classify(request: Request) -> dict[str, Any]:
        authorize(request)
        body = await read_json(request, settings)
        inputs = parse_pairs(body, settings, require_response=False)
        try:
            verdicts = await guard_batcher.submit(inputs)
        except InputFailed as exc:
            raise _model_failed(exc, _input_names(len(inputs), body)) from exc
        metrics.inputs.labels(path="/v1/classify").inc(len(inputs))
        metrics.flagged.inc(sum(v.flagged for v in verdicts))
        return {
            "results": [
                {"flagged": v.flagged, "score": v.score, "categories": v.categories}
                for v in verdicts
            ]
        }

    @app.post(
        "/v1/refusal",
        response_model=None,
        openapi_extra=api_schema.body(api_schema.pairs_request(settings, require_response=True)),
        responses=api_schema.responses(api_schema.REFUSAL_RESPONSE, 400, 401, 404, 413, 500),
    )
    async def refusal(request: Request) -> dict[str, Any]:
        authorize(request)
        if refusal_batcher is None:
            raise ApiError(404, "this server has no refusal detector", "not_available")
        body = await read_json(request, settings)
        inputs = parse_pairs(body, settings, require_response=True)
        try:
            results = await refusal_batcher.submit([(i.prompt, i.response or "") for i in inputs])
        except InputFailed as exc:
            raise _model_failed(exc, _input_names(len(inputs), body)) from exc
        metrics.inputs.labels(path="/v1/refusal").inc(len(inputs))
        return {"results": [r.to_dict() for r in results]}

    return app


def serve(
    guard: GuardBackend,
    detector: Any | None,
    host: str,
    port: int,
    settings: GuardServerSettings,
    log_level: str = "info",
    category_map: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    app = create_app(guard, detector, settings, category_map)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
