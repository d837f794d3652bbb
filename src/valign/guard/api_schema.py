"""The guard server's wire format as JSON Schema, published in its OpenAPI document.

The endpoints read their bodies themselves (:mod:`valign.guard.api_input`), so that every
mistake gets OpenAI's error shape; these schemas describe the same contract for clients and
for schema-driven fuzzing (``tests/unit/guard/test_guard_server_fuzz.py``). The limits of a
server (inputs per request, characters per input) are written into its own schemas.
"""

from __future__ import annotations

from typing import Any

from valign.guard.server_settings import GuardServerSettings
from valign.values.schema import OPENAI_MODERATION_CATEGORIES

Schema = dict[str, Any]

ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": "string"},
            },
        }
    },
}

_SCORES: Schema = {"type": "object", "additionalProperties": {"type": "number"}}
_FLAGS: Schema = {"type": "object", "additionalProperties": {"type": "boolean"}}
_OPENAI = list(OPENAI_MODERATION_CATEGORIES)

MODERATION_RESPONSE: Schema = {
    "type": "object",
    "required": ["id", "model", "results"],
    "properties": {
        "id": {"type": "string"},
        "model": {"type": "string"},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "flagged",
                    "categories",
                    "category_scores",
                    "category_applied_input_types",
                    "valign_categories",
                    "valign_category_scores",
                    "score",
                ],
                "properties": {
                    "flagged": {"type": "boolean"},
                    "categories": {**_FLAGS, "required": _OPENAI},
                    "category_scores": {**_SCORES, "required": _OPENAI},
                    "category_applied_input_types": {
                        "type": "object",
                        "required": _OPENAI,
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                    "valign_categories": _FLAGS,
                    "valign_category_scores": _SCORES,
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
    },
}


def _results(item: Schema) -> Schema:
    """``{"results": [item, ...]}``: the body of valign's own endpoints."""
    return {
        "type": "object",
        "required": ["results"],
        "properties": {"results": {"type": "array", "items": item}},
    }


CLASSIFY_RESPONSE: Schema = _results(
    {
        "type": "object",
        "required": ["flagged", "score", "categories"],
        "properties": {
            "flagged": {"type": "boolean"},
            "score": {"type": "number"},
            "categories": _SCORES,
        },
    }
)

REFUSAL_RESPONSE: Schema = _results(
    {
        "type": "object",
        "required": ["refusal", "refusal_score", "refusal_kind", "attempt"],
        "properties": {
            "refusal": {"type": "boolean"},
            "refusal_score": {"type": "number"},
            "refusal_kind": {"type": "string", "enum": ["none", "partial", "full"]},
            "attempt": {"type": "string", "enum": ["attempted", "partial", "not_attempted"]},
        },
    }
)


def _one_or_many(item: Schema, settings: GuardServerSettings) -> Schema:
    many = {"type": "array", "minItems": 1, "maxItems": settings.max_inputs, "items": item}
    return {"anyOf": [*item["anyOf"], many]}


def moderation_request(settings: GuardServerSettings) -> Schema:
    text = {"type": "string", "maxLength": settings.max_chars}
    part = {
        "type": "object",
        "required": ["type", "text"],
        "properties": {"type": {"const": "text"}, "text": text},
    }
    return {
        "type": "object",
        "required": ["input"],
        "properties": {
            "input": _one_or_many({"anyOf": [text, part]}, settings),
            "model": {"type": "string"},
        },
    }


def pairs_request(settings: GuardServerSettings, require_response: bool) -> Schema:
    """``/v1/refusal`` (a response is required) and ``/v1/classify`` (a prompt is)."""
    text = {"type": "string", "maxLength": settings.max_chars}
    pair: Schema = {
        "type": "object",
        "properties": {
            "prompt": text,
            "response": text if require_response else {"anyOf": [text, {"type": "null"}]},
        },
        "required": ["response"] if require_response else ["prompt"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "required": ["input"],
        "properties": {"input": _one_or_many({"anyOf": [text, pair]}, settings)},
    }


def body(schema: Schema) -> dict[str, Any]:
    """``openapi_extra`` declaring a required JSON request body."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def responses(ok: Schema, *errors: int) -> dict[int | str, dict[str, Any]]:
    """The documented responses: ``ok`` for 200, OpenAI's error shape for the others."""

    def json_of(schema: Schema, description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    out: dict[int | str, dict[str, Any]] = {200: json_of(ok, "One result per input, in order.")}
    words = {
        400: "A mistake in the request.",
        401: "Missing or wrong bearer token.",
        404: "Not available on this server.",
        413: "Request body too large.",
        500: "The model failed on an input (only that request fails).",
    }
    for status in errors:
        out[status] = json_of(ERROR, words[status])
    return out
