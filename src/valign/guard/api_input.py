"""Reading the guard server's requests: every mistake is an :class:`ApiError`, never a crash.

A request is checked whole before any of its inputs joins a micro-batch, so nothing one
client sends can reach the model in another client's batch. The JSON reader refuses what
Python's ``json`` would accept or crash on but no client means to send:

* a body that is not UTF-8, not JSON, or uses ``NaN`` / ``Infinity`` (not JSON values);
* containers nested deeper than :data:`MAX_DEPTH` levels (a request needs three);
* numbers with a run of more than :data:`MAX_NUMBER_DIGITS` digits (Python's ``int`` would
  take quadratic time, or refuse past 4,300 digits);
* strings or keys holding a lone UTF-16 surrogate (``"\\ud800"``): not Unicode text, and no
  tokenizer or JSON encoder can handle them.

Errors carry OpenAI's error shape (``{"error": {"message", "type", "param", "code"}}``) and,
where one value is at fault, its place in the request (``param``, e.g. ``input[2].text``).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from starlette.requests import ClientDisconnect, Request

from valign.guard.server_settings import GuardServerSettings
from valign.guard.types import GuardInput

MAX_DEPTH = 16
"""Deepest nesting of arrays and objects accepted in a request body."""
MAX_NUMBER_DIGITS = 100
"""Most digits in a row accepted in a number of a request body."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONG_DIGITS = re.compile(f"[0-9]{{{MAX_NUMBER_DIGITS + 1}}}")
_THREAD_ABOVE = 64 * 1024
"""Bodies larger than this (bytes) are parsed in a worker thread, off the event loop."""


class ApiError(Exception):
    """A request mistake: becomes a JSON error with this status."""

    def __init__(
        self, status: int, message: str, code: str, param: str | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        if not kind:
            kind = {401: "authentication_error"}.get(status, "invalid_request_error")
            kind = "server_error" if status >= 500 else kind
        self.kind = kind


def error_body(message: str, kind: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# --------------------------------------------------------------------------- the JSON body


async def read_json(request: Request, settings: GuardServerSettings) -> Any:
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
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_body_bytes:
                raise _too_large(settings)
    except ClientDisconnect:
        raise ApiError(400, "the client left before sending the body", "incomplete_body") from None
    if len(body) > _THREAD_ABOVE:  # a megabyte of JSON takes the loop from everyone else
        return await asyncio.to_thread(parse_json, bytes(body))
    return parse_json(bytes(body))


def _too_large(settings: GuardServerSettings) -> ApiError:
    return ApiError(
        413, f"request body is larger than {settings.max_body_bytes} bytes", "request_too_large"
    )


class _NumberTooLong(ValueError):
    pass


class _NotJson(ValueError):
    pass


def _number(text: str, convert: type[int] | type[float]) -> int | float:
    if _LONG_DIGITS.search(text):
        raise _NumberTooLong(text)
    return convert(text)


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body; ApiError (400) for anything a client should not send.

    The checks cost little on ordinary bodies: numbers go through a Python hook only when the
    text has a long run of digits, and strings are searched for surrogates only when the text
    escapes one (UTF-8 itself cannot carry them).
    """
    if not body:
        raise ApiError(400, "request body is empty; send a JSON object", "empty_body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not valid UTF-8", "invalid_encoding") from None
    hooks: dict[str, Any] = {"parse_constant": _constant}
    if _LONG_DIGITS.search(text):
        hooks.update(parse_int=lambda s: _number(s, int), parse_float=lambda s: _number(s, float))
    try:
        value = json.loads(text, **hooks)
    except RecursionError:
        raise _too_deep() from None
    except _NumberTooLong:
        raise ApiError(
            400,
            f"request body has a number with more than {MAX_NUMBER_DIGITS} digits",
            "number_too_large",
        ) from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc.msg}", "invalid_json") from None
    except ValueError as exc:  # _NotJson, and whatever else a number or constant raises
        raise ApiError(400, f"request body is not valid JSON: {exc}", "invalid_json") from None
    check_depth(value)
    if _SURROGATE_ESCAPE.search(text):
        try:  # the encoder's speed for the common case: escaped emoji, in surrogate pairs
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            check_text(value)
    return value


def _too_deep() -> ApiError:
    return ApiError(
        400, f"request body is nested deeper than {MAX_DEPTH} levels", "nesting_too_deep"
    )


def check_depth(value: Any) -> None:
    """Arrays and objects nested at most :data:`MAX_DEPTH` levels deep."""
    containers = (dict, list)
    stack: list[tuple[Any, int]] = [(value, 1)] if type(value) in containers else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        for child in node.values() if type(node) is dict else node:
            if type(child) in containers:
                stack.append((child, depth + 1))


def check_text(value: Any) -> None:
    """No lone surrogate in any string or key; the error names where one is."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise _surrogate(path)
        elif isinstance(node, dict | list):
            pairs = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in pairs:
                if isinstance(key, str) and _SURROGATE.search(key):
                    raise _surrogate(path)
                stack.append((child, (*path, key)))


def _surrogate(path: tuple[str | int, ...]) -> ApiError:
    param = param_name(path)
    where = f"'{param}'" if param else "the request body"
    return ApiError(
        400,
        f"{where} contains a lone UTF-16 surrogate; text must be valid Unicode",
        "invalid_text",
        param,
    )


def param_name(path: tuple[str | int, ...]) -> str | None:
    """``("input", 2, "text")`` -> ``"input[2].text"``; None for the whole body."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{_short(part)}" if out else _short(part)
    return out or None


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- the fields


def _as_list(value: Any, param: str, settings: GuardServerSettings) -> list[Any]:
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


def _text(value: Any, param: str, settings: GuardServerSettings) -> str:
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


def parse_moderation(body: Any, settings: GuardServerSettings) -> list[str]:
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


def parse_pairs(
    body: Any, settings: GuardServerSettings, require_response: bool
) -> list[GuardInput]:
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
                f"'{param}' has unknown field(s): {', '.join(sorted(map(_short, unknown)))}",
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
