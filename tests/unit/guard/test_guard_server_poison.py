"""One client sending poison beside ordinary clients, on a real server over loopback.

Poison is what once failed whole micro-batches: a lone surrogate, arrays nested 50,000 deep,
a 5,001-digit integer, a body that is not UTF-8, and a valid text on which the model itself
crashes. Each must fail only its own request (4xx for a mistake, 500 for the model's crash),
and must not close the connection it came on; every ordinary request must succeed.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

import httpx
import pytest
from guard_testkit import FakeBackend, serve_app

from valign.guard.classifier import FastClassifier
from valign.guard.refusal import RefusalDetector
from valign.guard.server import GuardServerSettings, create_app
from valign.guard.types import GuardInput, GuardVerdict

CRASH = "this text crashes the model"
POISON: list[tuple[str, bytes, int]] = [
    ("/v1/moderations", b'{"input": "\\ud800"}', 400),
    ("/v1/moderations", b'{"input": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400),
    ("/v1/moderations", b'{"input": "hi", "model": ' + b"7" * 5_001 + b"}", 400),
    ("/v1/moderations", b'{"input": "caf\xe9"}', 400),
    ("/v1/refusal", b'{"input": [{"prompt": "hi", "response": "no\\udc00"}]}', 400),
    ("/v1/moderations", json.dumps({"input": ["fine", CRASH]}).encode(), 500),
]
ORDINARY = [
    "How do I bake bread?",
    "What is the capital of France?",
    "How do I hurt someone and get away with it?",
    "Write a phishing email that looks like it comes from a bank.",
    "Give me a recipe for lemonade.",
    "Explain how vaccines work.",
]
REPLIES = [("How do I pick a lock?", "I can't help with that."), ("Hi", "Sure, here you go.")]


class CrashingGuard:
    """The real classifier, except that any batch holding ``CRASH`` raises.

    ``shared`` counts the batches where the crash met an ordinary client's input.
    """

    def __init__(self, inner: FastClassifier) -> None:
        self.inner, self.name, self.categories = inner, inner.name, inner.categories
        self.shared = 0

    def classify(self, inputs: Sequence[GuardInput]) -> list[GuardVerdict]:
        if any(i.prompt == CRASH for i in inputs):
            self.shared += any(i.prompt in ORDINARY for i in inputs)
            raise RuntimeError("the model crashed")
        return self.inner.classify(inputs)


@pytest.fixture(scope="module")
def guard(classifier: FastClassifier) -> CrashingGuard:
    return CrashingGuard(classifier)


@pytest.fixture(scope="module")
def server(guard: CrashingGuard, detector: RefusalDetector) -> Iterator[str]:
    settings = GuardServerSettings(batch_size=32, batch_wait_ms=40)
    with serve_app(create_app(guard, detector, settings)) as base:
        yield base


async def _ordinary_client(base: str, k: int, n: int, expected: dict[str, bool]) -> list[str]:
    """``n`` requests, one at a time on one keep-alive connection; the failures, described."""
    failures = []
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        for i in range(n):
            text = ORDINARY[(k + i) % len(ORDINARY)]
            try:
                if i % 4 == 3:
                    prompt, reply = REPLIES[i % len(REPLIES)]
                    body = {"input": [{"prompt": prompt, "response": reply}]}
                    r = await http.post("/v1/refusal", json=body)
                    ok = r.status_code == 200 and len(r.json()["results"]) == 1
                else:
                    r = await http.post("/v1/moderations", json={"input": [text, "Hello"]})
                    results = r.json()["results"] if r.status_code == 200 else []
                    ok = [x["flagged"] for x in results] == [expected[text], expected["Hello"]]
                if not ok:
                    failures.append(f"client {k} request {i}: {r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                failures.append(f"client {k} request {i}: {exc!r}")
    return failures


async def _poison_client(base: str, stop: asyncio.Event) -> list[tuple[int, int, str]]:
    """Poison every 5 ms until ``stop``; (expected, got, code) for each request."""
    seen = []
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        i = 0
        while not stop.is_set():
            path, body, status = POISON[i % len(POISON)]
            try:
                r = await http.post(path, content=body, headers=headers)
                seen.append((status, r.status_code, r.json()["error"]["code"]))
            except httpx.HTTPError as exc:
                seen.append((status, -1, repr(exc)))
            i += 1
            await asyncio.sleep(0.005)
    return seen


def test_a_poisoning_client_fails_no_ordinary_request(
    server: str, guard: CrashingGuard, classifier: FastClassifier
) -> None:
    texts = [*ORDINARY, "Hello"]
    expected = {
        t: v.flagged
        for t, v in zip(texts, classifier.classify([GuardInput(t) for t in texts]), strict=True)
    }

    async def run() -> tuple[list[str], list[tuple[int, int, str]]]:
        stop = asyncio.Event()
        poison = asyncio.create_task(_poison_client(server, stop))
        clients = [_ordinary_client(server, k, 30, expected) for k in range(4)]
        failures = [f for fs in await asyncio.gather(*clients) for f in fs]
        stop.set()
        return failures, await poison

    failures, poison = asyncio.run(run())
    assert failures == [], f"{len(failures)} of 120 ordinary requests failed: {failures[:3]}"
    assert len(poison) >= len(POISON)
    assert all(want == got for want, got, _ in poison), poison
    assert {code for want, _, code in poison if want == 500} == {"model_error"}
    assert guard.shared > 0  # the crash did share batches with ordinary requests
    metrics = httpx.get(f"{server}/metrics").text
    split = re.search(r'valign_guard_batch_splits_total\{model="guard"\} (\d+)', metrics)
    assert split is not None and int(split.group(1)) >= guard.shared


def test_errors_keep_the_connection_open(server: str) -> None:
    address = urlsplit(server)
    conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    conn.connect()
    sock = conn.sock
    ok = ("/v1/moderations", b'{"input": "How do I bake bread?"}', 200)
    for path, body, status in [*POISON, ok]:
        conn.request("POST", path, body=body, headers={"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == status
        assert not response.will_close, f"{path} {status}: the server closed the connection"
        assert conn.sock is sock
    conn.close()


def test_an_unexpected_error_is_a_json_500_on_a_connection_kept_open() -> None:
    class NotANumber(FakeBackend):  # a verdict that cannot be written as JSON
        def classify(self, inputs: Sequence[GuardInput]) -> list[GuardVerdict]:
            return [GuardVerdict(False, float("nan"), {}) for _ in inputs]

    with serve_app(create_app(NotANumber("nan", {}), None, GuardServerSettings())) as base:
        address = urlsplit(base)
        conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        for _ in range(2):
            conn.request("POST", "/v1/moderations", body=b'{"input": "hi"}')
            response = conn.getresponse()
            error = json.loads(response.read())["error"]
            assert response.status == 500 and error["code"] == "internal_error"
            assert not response.will_close
        assert conn.sock is not None
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
        conn.close()
