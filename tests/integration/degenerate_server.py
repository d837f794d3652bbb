"""An OpenAI-compatible loopback server whose "models" are degenerate reply policies.

The served model name picks the policy (``http://127.0.0.1:PORT/v1#refuse``). Each policy
answers every request without looking at what is asked, except ``echo`` (the request back)
and ``good`` (the microworld's own aligned reply to that exact request). A scorecard must
not reward any of them beyond the items its fixed reply is genuinely right for.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from valign.world.generate import COMPLIANT_HARM
from valign.world.splits import microworld_eval_episodes

REFUSAL = "I'm sorry, but I can't help with that."
APOLOGIES = (
    "I apologize, but I cannot help with that.",
    "Sorry, I can't assist with that request.",
    "I'm not able to provide that.",
    "As an AI, I must decline.",
    "I'm afraid I can't do that.",
)
# Everyday words that name nothing in the microworld.
WORDS = tuple(
    [
        "apple",
        "river",
        "window",
        "quietly",
        "hundred",
        "jacket",
        "planet",
        "music",
        "paper",
        "table",
        "garden",
        "yellowish",
        "candle",
        "winter",
        "forest",
        "silver",
        "ladder",
        "pocket",
        "thunder",
        "violin",
        "marble",
        "engine",
        "cotton",
        "basket",
        "meadow",
        "harbour",
        "lantern",
        "feather",
        "kettle",
        "saddle",
    ]
)


#: The constant-reply policies a scorecard is checked against, and the good replies.
SCORED_POLICIES = (
    "refuse",
    "apologies",
    "empty",
    "random_words",
    "echo",
    "unknown",
    "purple",
    "stuffed",
    "refuse_then_comply",
    "good",
)


def _key(messages: list[dict[str, str]]) -> str:
    return json.dumps(messages, sort_keys=True, ensure_ascii=False)


def stuffed_reply(seed: int = 0, budget: int = 60) -> str:
    """One string naming as many of the split's answers as fit in about ``budget`` words:
    the most frequent candidates of every kind in turn (answers, rivals, choice keys)."""
    counts: dict[str, dict[str, int]] = {}
    for ep in microworld_eval_episodes(seed):
        per_kind = counts.setdefault(ep.item.kind, {})
        for a in (*ep.item.answers, *ep.item.distractors, *ep.item.choice_keys):
            per_kind[a] = per_kind.get(a, 0) + 1
    ranked = [sorted(c, key=lambda a: (-c[a], a)) for c in counts.values()]
    words: list[str] = []
    named: set[str] = set()
    for rank in range(max(map(len, ranked))):
        for pool in ranked:
            fits = rank < len(pool) and len(words) + len(pool[rank].split()) <= budget
            if fits and pool[rank] not in named:
                words += pool[rank].split()
                named.add(pool[rank])
    return " ".join(words)


def policies(seed: int = 0) -> dict[str, Callable[[list[dict[str, str]]], str]]:
    """Policy name -> reply function of the request's messages."""
    good = {_key(ep.item.prompt()): ep.good for ep in microworld_eval_episodes(seed)}
    stuffed = stuffed_reply(seed)

    def digest(messages: list[dict[str, str]]) -> int:
        return int(hashlib.sha256(_key(messages).encode()).hexdigest()[:8], 16)

    return {
        "refuse": lambda m: REFUSAL,
        "apologies": lambda m: APOLOGIES[digest(m) % len(APOLOGIES)],
        "empty": lambda m: "",
        "random_words": lambda m: " ".join(random.Random(digest(m)).choices(WORDS, k=12)),
        "echo": lambda m: m[-1]["content"],
        "unknown": lambda m: "unknown",
        "purple": lambda m: "purple",
        "stuffed": lambda m: stuffed,
        "refuse_then_comply": lambda m: f"I can't help with that. {COMPLIANT_HARM}",
        "long": lambda m: " ".join(["word"] * 5000),
        "good": lambda m: good.get(_key(m), ""),
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    policies: ClassVar[dict[str, Callable[[list[dict[str, str]]], str]]] = {}

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle stalls

    def log_message(self, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"data": [{"id": name} for name in self.policies]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        policy = self.policies.get(body.get("model", ""))
        if self.path != "/v1/chat/completions" or policy is None:
            self._send(404, {"error": {"message": "not found"}})
            return
        text = policy(body["messages"])
        message = {"role": "assistant", "content": text}
        self._send(200, {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})


@contextmanager
def serve_policies(seed: int = 0) -> Iterator[str]:
    """Serve every policy on 127.0.0.1; yields the ``/v1`` base URL."""
    handler = type("Handler", (_Handler,), {"policies": policies(seed)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
