"""Property-based fuzzing of the guard server: no request, valid or not, gets a 5xx.

Two generators, both against a real server on loopback with the small trained guard (so a
text that breaks the tokenizer would show): schemathesis draws requests from the server's
own OpenAPI document (schema-valid and schema-violating bodies), and hypothesis draws hostile
JSON that no schema describes (lone surrogates, deep nesting, long numbers, NaN, raw bytes).
Example counts are bounded to keep the suite fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from guard_testkit import serve_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from valign.guard.classifier import FastClassifier
from valign.guard.refusal import RefusalDetector
from valign.guard.server import GuardServerSettings, create_app

LIMITS = GuardServerSettings(max_inputs=4, max_chars=120, max_body_bytes=20_000, batch_wait_ms=1)
PATHS = ("/v1/moderations", "/v1/refusal", "/v1/classify")
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)


@pytest.fixture(scope="module")
def base_url(classifier: FastClassifier, detector: RefusalDetector) -> Iterator[str]:
    with serve_app(create_app(classifier, detector, LIMITS)) as base:
        yield base


@pytest.fixture(scope="module")
def api(base_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api").include(path_regex=r"^/v1/(moderations|refusal)$")


@schema.parametrize()
@FUZZ
def test_schema_fuzzing_finds_no_server_error(case: Any) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}


# ------------------------------------------------------------------ hostile JSON, no schema

# Texts as clients send them, and texts with lone surrogates (which JSON can carry as \udxxx).
_with_surrogates = st.one_of(st.characters(), st.characters(categories=["Cs"]))
_texts = st.one_of(st.text(max_size=30), st.text(alphabet=_with_surrogates, max_size=30))
_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**99, max_value=10**200),
    st.floats(allow_nan=True, allow_infinity=True),
)
_json = st.recursive(
    st.none() | st.booleans() | _numbers | _texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texts, inner, max_size=4),
    max_leaves=20,
)
_items = st.one_of(
    _texts,
    st.fixed_dictionaries({"type": st.just("text"), "text": _texts}),
    st.fixed_dictionaries({}, optional={"prompt": _json, "response": _json}),
    _json,
)
_bodies = st.one_of(
    st.fixed_dictionaries({"input": st.one_of(_items, st.lists(_items, max_size=5))}),
    st.fixed_dictionaries(
        {"input": st.lists(_texts, min_size=1, max_size=3)}, optional={"model": _json}
    ),
    _json,
)


def _nested(depth: int) -> bytes:
    return b'{"input": ' + b"[" * depth + b'"x"' + b"]" * depth + b"}"


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


def _post(http: httpx.Client, path: str, content: bytes) -> None:
    response = http.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code < 500, (path, content[:200], response.text)
    if response.status_code != 200:
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@FUZZ
@given(body=_bodies, path=st.sampled_from(PATHS))
def test_hostile_json_finds_no_server_error(http: httpx.Client, body: Any, path: str) -> None:
    _post(http, path, json.dumps(body).encode())  # ensure_ascii: lone surrogates as \\udxxx


@FUZZ
@given(
    raw=st.one_of(
        st.binary(max_size=200),
        st.integers(min_value=1, max_value=3_000).map(_nested),
        st.integers(min_value=101, max_value=6_000).map(lambda n: b'{"input": ' + b"9" * n + b"}"),
    ),
    path=st.sampled_from(PATHS),
)
def test_hostile_bytes_find_no_server_error(http: httpx.Client, raw: bytes, path: str) -> None:
    _post(http, path, raw)
