"""The guard server: OpenAI-compatible schema, every 4xx path, limits, batching under load."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from guard_testkit import CATEGORIES, FakeBackend, serve_app
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from valign.guard.refusal import RefusalDetector
from valign.guard.server import GuardServerSettings, create_app
from valign.guard.server_metrics import LATENCY_BUCKETS
from valign.values.schema import OPENAI_MODERATION_CATEGORIES

VIOLENT = {"violence", "illicit", "illicit/violent"}
SETTINGS = GuardServerSettings(max_body_bytes=2_000, max_inputs=4, max_chars=100, batch_wait_ms=2)


@pytest.fixture
def client(detector: RefusalDetector) -> Iterator[TestClient]:
    guard = FakeBackend("fake", {"attack": 0.9, "bad reply": 0.8})
    with TestClient(create_app(guard, detector, SETTINGS)) as c:
        yield c


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


def test_moderation_string_and_list(client: TestClient) -> None:
    one = client.post(
        "/v1/moderations", json={"input": "attack", "model": "omni-moderation-latest"}
    )
    assert one.status_code == 200
    body = one.json()
    assert body["id"].startswith("modr-") and body["model"] == "valign-guard"
    (result,) = body["results"]
    assert result["flagged"] is True
    # OpenAI's names, mapped from the default constitution: violent_crime covers these three.
    assert list(result["categories"]) == list(OPENAI_MODERATION_CATEGORIES)
    assert {c for c, hit in result["categories"].items() if hit} == VIOLENT
    scores = result["category_scores"]
    assert {c: s for c, s in scores.items() if s} == dict.fromkeys(VIOLENT, 0.9)
    assert result["category_applied_input_types"] == {
        c: ["text"] for c in OPENAI_MODERATION_CATEGORIES
    }
    # valign's own ids, as before, in their own fields.
    assert result["valign_categories"] == {"violent_crime": True, "privacy": False}
    assert result["valign_category_scores"] == {"violent_crime": 0.9, "privacy": 0.0}
    assert result["score"] == 0.9
    many = client.post(
        "/v1/moderations", json={"input": ["hello", {"type": "text", "text": "attack"}]}
    ).json()
    assert [r["flagged"] for r in many["results"]] == [False, True]
    assert set(many["results"][0]["valign_categories"]) == set(CATEGORIES)
    assert not any(many["results"][0]["categories"].values())


def test_classify_and_refusal_endpoints(client: TestClient) -> None:
    res = client.post(
        "/v1/classify", json={"input": [{"prompt": "hi", "response": "bad reply"}, "attack"]}
    ).json()["results"]
    assert [r["flagged"] for r in res] == [True, True]
    assert set(res[0]) == {"flagged", "score", "categories"}
    ref = client.post(
        "/v1/refusal",
        json={"input": [{"prompt": "hurt him", "response": "I can't help with that."}, "Sure!"]},
    ).json()["results"]
    assert ref[0]["refusal"] is True
    assert set(ref[0]) == {"refusal", "refusal_score", "refusal_kind", "attempt"}


def _scrape(client: TestClient) -> dict[str, Metric]:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    return {m.name: m for m in text_string_to_metric_families(response.text)}


def _value(metric: Metric, suffix: str = "", **labels: str) -> float:
    (value,) = [
        s.value for s in metric.samples if s.name == metric.name + suffix and s.labels == labels
    ]
    return float(value)


def test_health_and_metrics(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health == {"status": "ok", "guard": "fake", "categories": CATEGORIES, "refusal": True}
    client.post("/v1/moderations", json={"input": ["attack", "x"]})
    client.post("/v1/moderations", content=b"{")
    client.post("/v1/refusal", json={"input": "Sure!"})
    m = _scrape(client)  # parsed by prometheus_client's own parser
    requests = m["valign_guard_requests"]
    assert requests.type == "counter"
    assert _value(requests, "_total", path="/v1/moderations", status="200") == 1
    assert _value(requests, "_total", path="/v1/moderations", status="400") == 1
    assert _value(requests, "_total", path="/health", status="200") == 1
    assert m["valign_guard_inputs"].type == "counter"
    assert _value(m["valign_guard_inputs"], "_total", path="/v1/moderations") == 2
    assert _value(m["valign_guard_inputs"], "_total", path="/v1/refusal") == 1
    assert m["valign_guard_flagged"].type == "counter"
    assert _value(m["valign_guard_flagged"], "_total") == 1
    for name in ("batches", "batch_items", "batch_splits", "failed_inputs"):
        assert m[f"valign_guard_{name}"].type == "counter"
    assert _value(m["valign_guard_batch_items"], "_total", model="guard") == 2
    assert _value(m["valign_guard_batch_items"], "_total", model="refusal") == 1
    assert _value(m["valign_guard_failed_inputs"], "_total", model="guard") == 0
    for gauge in ("valign_guard_uptime_seconds", "valign_guard_start_time_seconds"):
        assert m[gauge].type == "gauge" and _value(m[gauge]) > 0
    in_progress = m["valign_guard_requests_in_progress"]
    assert in_progress.type == "gauge"
    assert _value(in_progress, path="/metrics") == 1  # this scrape, being served
    assert _value(in_progress, path="/v1/moderations") == 0


def test_request_latency_histograms(client: TestClient) -> None:
    for _ in range(3):
        client.post("/v1/moderations", json={"input": "hello"})
    latency = _scrape(client)["valign_guard_request_duration_seconds"]
    assert latency.type == "histogram"
    path = "/v1/moderations"
    assert _value(latency, "_count", path=path) == 3
    assert 0 < _value(latency, "_sum", path=path) < 30
    buckets = [
        (float(s.labels["le"]), s.value)
        for s in latency.samples
        if s.name.endswith("_bucket") and s.labels["path"] == path
    ]
    assert [le for le, _ in buckets] == [*LATENCY_BUCKETS, math.inf]
    counts = [n for _, n in buckets]
    assert counts == sorted(counts) and counts[-1] == 3  # cumulative, +Inf holds every one


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "empty_body"),
        (b"{not json", 400, "invalid_json"),
        (b'{"input": "caf\xe9"}', 400, "invalid_encoding"),
        (b"[1, 2]", 400, "invalid_type"),
        (b'{"text": "hi"}', 400, "missing_field"),
        (b'{"input": 5}', 400, "invalid_type"),
        (b'{"input": [null]}', 400, "invalid_type"),
        (b'{"input": []}', 400, "empty_input"),
        (b'{"input": ["a", "b", "c", "d", "e"]}', 400, "too_many_inputs"),
        (b'{"input": "' + b"x" * 101 + b'"}', 400, "input_too_long"),
        (
            b'{"input": [{"type": "image_url", "image_url": {"url": "x"}}]}',
            400,
            "unsupported_input_type",
        ),
        (b'{"input": "hi", "model": 3}', 400, "invalid_type"),
        (b'{"input": "' + b"x" * 3_000 + b'"}', 413, "request_too_large"),
        # What Python's json accepts, or crashes on, but no client means to send.
        (b'{"input": "\\ud800"}', 400, "invalid_text"),
        (b'{"input": ["ok", {"type": "text", "text": "a\\udfffb"}]}', 400, "invalid_text"),
        (b'{"input": "ok", "\\ud800": 1}', 400, "invalid_text"),
        (b'{"input": ' + b"[" * 990 + b"]" * 990 + b"}", 400, "nesting_too_deep"),
        (b'{"input": ' + b"[" * 16 + b"]" * 16 + b"}", 400, "nesting_too_deep"),
        (b'{"input": "hi", "model": ' + b"1" * 501 + b"}", 400, "number_too_large"),
        (b'{"input": "hi", "model": 1.' + b"5" * 200 + b"}", 400, "number_too_large"),
        (b'{"input": "hi", "model": NaN}', 400, "invalid_json"),
        (b'{"input": -Infinity}', 400, "invalid_json"),
    ],
)
def test_malformed_requests_get_4xx_json(
    client: TestClient, body: bytes, status: int, code: str
) -> None:
    response = client.post(
        "/v1/moderations", content=body, headers={"content-type": "application/json"}
    )
    assert error_of(response, status)["code"] == code


def test_escaped_pairs_and_long_texts_are_not_mistakes(client: TestClient) -> None:
    emoji = client.post("/v1/moderations", content=b'{"input": ["\\ud83d\\ude00 hi", "x"]}')
    assert emoji.status_code == 200, emoji.text
    digits = client.post("/v1/moderations", json={"input": "7" * 100, "model": "m" * 300})
    assert digits.status_code == 200, digits.text
    assert client.post("/v1/moderations", json={"input": "x", "model": 10**99}).status_code == 400


def test_mistakes_name_their_place(client: TestClient) -> None:
    surrogate = client.post("/v1/moderations", content=b'{"input": ["ok", "\\ud83d!"]}')
    assert error_of(surrogate, 400)["param"] == "input[1]"
    pair = b'{"input": [{"prompt": "hi", "response": "no\\udc00"}]}'
    assert error_of(client.post("/v1/refusal", content=pair), 400)["param"] == "input[0].response"
    depth_ok = b'{"input": ' + b"[" * 14 + b'"x"' + b"]" * 14 + b"}"  # 15 levels: read, then
    assert error_of(client.post("/v1/moderations", content=depth_ok), 400)["code"] == "invalid_type"
    long_key = client.post("/v1/classify", json={"input": [{"prompt": "a", "k" * 500: 1}]})
    assert len(error_of(long_key, 400)["message"]) < 120  # names are cut, not echoed whole


def test_refusal_and_classify_validate_their_items(client: TestClient) -> None:
    missing = client.post("/v1/refusal", json={"input": {"prompt": "only a prompt"}})
    assert error_of(missing, 400)["param"] == "input"
    unknown = client.post("/v1/classify", json={"input": [{"prompt": "a", "colour": "red"}]})
    assert error_of(unknown, 400)["code"] == "unknown_field"
    wrong = client.post("/v1/classify", json={"input": [{"prompt": "a", "response": 1}]})
    assert error_of(wrong, 400)["param"] == "input[0].response"


def test_streamed_oversized_body_is_cut_off(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"input": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    response = client.post("/v1/moderations", content=chunks())
    assert error_of(response, 413)["code"] == "request_too_large"


def test_unknown_paths_and_methods(client: TestClient) -> None:
    assert error_of(client.get("/v1/nothing"), 404)["code"] == "not_found"
    assert error_of(client.get("/v1/moderations"), 405)["code"] == "method_not_allowed"
    bad_length = client.post("/v1/moderations", content=b"{}", headers={"content-length": "abc"})
    assert bad_length.status_code == 400


def test_bearer_token(detector: RefusalDetector) -> None:
    app = create_app(FakeBackend("fake", {}), None, GuardServerSettings(token="s3cret"))
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200  # health needs no token
        missing = c.post("/v1/moderations", json={"input": "hi"})
        err = error_of(missing, 401)
        assert err["type"] == "authentication_error"
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = c.post(
            "/v1/moderations", json={"input": "hi"}, headers={"Authorization": "Bearer no"}
        )
        error_of(wrong, 401)
        ok = c.post(
            "/v1/moderations", json={"input": "hi"}, headers={"Authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 200
        no_detector = c.post(
            "/v1/refusal", json={"input": "x"}, headers={"Authorization": "Bearer s3cret"}
        )
        assert error_of(no_detector, 404)["code"] == "not_available"


class Flaky(FakeBackend):
    """Raises on any batch that holds the text "boom"; records every batch it is given."""

    def __init__(self, name: str, scores: dict[str, float]) -> None:
        super().__init__(name, scores)
        self.given: list[list[str]] = []

    def classify(self, inputs):  # type: ignore[no-untyped-def]
        self.given.append([i.prompt for i in inputs])
        if any(i.prompt == "boom" for i in inputs):
            raise RuntimeError("model crashed")
        return super().classify(inputs)


def test_a_failing_guard_answers_json_500_and_keeps_serving() -> None:
    with TestClient(
        create_app(Flaky("flaky", {}), None, SETTINGS), raise_server_exceptions=False
    ) as c:
        crashed = c.post("/v1/moderations", json={"input": ["fine", "boom"]})
        err = error_of(crashed, 500)
        assert (err["type"], err["code"], err["param"]) == (
            "server_error",
            "model_error",
            "input[1]",
        )
        assert c.post("/v1/moderations", json={"input": "fine"}).status_code == 200
        failed = _scrape(c)["valign_guard_failed_inputs"]
        assert _value(failed, "_total", model="guard") == 1


def test_an_input_the_model_fails_on_fails_only_its_own_request() -> None:
    """Requests sharing a batch with a crashing input get their answers."""
    guard = Flaky("flaky", {"attack": 0.9})
    app = create_app(guard, None, GuardServerSettings(batch_size=64, batch_wait_ms=50))

    async def together() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://guard") as http:
            texts = ["attack", "boom", "hello", "attack", "boom", "hello"]
            return list(
                await asyncio.gather(
                    *(http.post("/v1/moderations", json={"input": t}) for t in texts)
                )
            )

    responses = asyncio.run(together())
    assert [r.status_code for r in responses] == [200, 500, 200, 200, 500, 200]
    assert [r.json()["results"][0]["flagged"] for r in responses if r.status_code == 200] == [
        True,
        False,
        True,
        False,
    ]
    assert len(guard.given[0]) == 6  # they did share a batch, which then was split
    assert sum(map(len, guard.calls)) == 4  # each good input answered once


def test_concurrent_clients_are_served_in_batches() -> None:
    guard = FakeBackend("fake", {"attack": 0.9})
    app = create_app(guard, None, GuardServerSettings(batch_size=64, batch_wait_ms=20))

    async def hammer(base: str) -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:

            async def one(i: int) -> int:
                text = "attack" if i % 2 else f"hello {i}"
                r = await http.post("/v1/moderations", json={"input": text})
                assert r.json()["results"][0]["flagged"] is bool(i % 2)
                return r.status_code

            return list(await asyncio.gather(*(one(i) for i in range(64))))

    with serve_app(app) as base:
        statuses = asyncio.run(hammer(base))
    assert statuses == [200] * 64
    assert sum(len(c) for c in guard.calls) == 64
    assert len(guard.calls) < 64  # several requests shared a batch
