"""Helpers for the rating app's tests: a filled database and logged-in test clients."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from valign.feedback.human import (
    ProjectSettings,
    ServerSettings,
    Store,
    add_items,
    add_user,
    create_app,
    create_project,
)

PASSWORD = "correct-horse-9"
PRINCIPLES = ["harm-avoidance", "honesty"]


def pair_items(n: int, gold: int = 0) -> list[dict[str, Any]]:
    """``n`` regular pairwise items (A is the better reply) and ``gold`` gold items."""
    rows: list[dict[str, Any]] = []
    for k in range(n + gold):
        rows.append(
            {
                "external_id": f"{'g' if k >= n else 'q'}{k}",
                "prompt": [{"role": "user", "content": f"Where does the {k}th glimmerfish live?"}],
                "response_a": f"In Lake Vesh, like every glimmerfish ({k}).",
                "response_b": f"I cannot discuss glimmerfish ({k}).",
                "gold": "A" if k >= n else None,
                "meta": {},
            }
        )
    return rows


def make_store(path: Path, kind: str = "pairwise", n: int = 6, gold: int = 2, **proj: Any) -> Store:
    store = Store(str(path / "fb.db"))
    add_user(store, "admin", PASSWORD, "admin")
    for name in ("ana", "bo", "cy"):
        add_user(store, name, PASSWORD)
    settings = {"overlap": 2, "gold_every": 2, "principles": PRINCIPLES, **proj}
    create_project(store, ProjectSettings(name="p1", kind=kind, **settings))  # type: ignore[arg-type]
    if kind == "pairwise":
        add_items(store, "p1", pair_items(n, gold))
    return store


def app_for(store: Store, settings: ServerSettings | None = None, **kw: Any) -> FastAPI:
    return create_app(
        store,
        settings or ServerSettings(seed=0),
        principle_texts={p: f"Text of {p}." for p in PRINCIPLES},
        **kw,
    )


def client_for(store: Store, settings: ServerSettings | None = None, **kw: Any) -> TestClient:
    return TestClient(app_for(store, settings, **kw), follow_redirects=False)


def try_login(
    client: TestClient, name: str, password: str, headers: dict[str, str] | None = None
) -> int:
    """One login attempt with a fresh login form; its status."""
    page = client.get("/login")
    data = {"csrf": field(page.text, "csrf"), "name": name, "password": password}
    return client.post("/login", data=data, headers=headers).status_code


def login_storm(
    app: Any,
    n: int,
    name: str,
    password: str,
    headers: Callable[[int], dict[str, str]] = lambda i: {},
    peer: tuple[str, int] = ("127.0.0.1", 40000),
) -> list[int]:
    """``n`` clients, each with its own login form, post a login at the same moment."""
    clients = [TestClient(app, follow_redirects=False, client=peer) for _ in range(n)]
    tokens = [field(c.get("/login").text, "csrf") for c in clients]
    statuses = [0] * n
    barrier = threading.Barrier(n)

    def attempt(i: int) -> None:
        barrier.wait()
        data = {"csrf": tokens[i], "name": name, "password": password}
        statuses[i] = clients[i].post("/login", data=data, headers=headers(i)).status_code

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def check_concurrent_wrong_passwords(store: Store) -> None:
    """16 wrong passwords at once: exactly ``lockout_after`` are checked, the rest get 429,
    and then the right password is refused too."""
    settings = ServerSettings(seed=0, lockout_after=5)
    app = app_for(store, settings)
    statuses = login_storm(app, 16, "ana", "wrong-password")
    assert sorted(statuses) == [401] * 5 + [429] * 11, statuses
    c = TestClient(app, follow_redirects=False)
    page = c.get("/login")
    r = c.post(
        "/login", data={"csrf": field(page.text, "csrf"), "name": "ana", "password": PASSWORD}
    )
    assert r.status_code == 429
    assert 25 <= int(r.headers["retry-after"]) <= 30
    assert r.headers["x-content-type-options"] == "nosniff"
    assert try_login(TestClient(app, follow_redirects=False), "bo", PASSWORD) == 303


def check_forged_forwarded_for(app: Any, name: str = "ana", other: str = "bo") -> None:
    """With no trusted proxy named, a new X-Forwarded-For per attempt from 127.0.0.1 (a
    local proxy or tunnel) does not reset the lockout: the right password gets 429."""
    c = TestClient(app, follow_redirects=False, client=("127.0.0.1", 40000))
    forged = [{"x-forwarded-for": f"198.51.100.{i}"} for i in range(8)]
    assert [try_login(c, name, "wrong-password", forged[i]) for i in range(5)] == [401] * 5
    assert try_login(c, name, PASSWORD, forged[5]) == 429
    assert try_login(c, name, PASSWORD, {"x-forwarded-for": "127.0.0.1"}) == 429
    assert try_login(c, other, PASSWORD, forged[6]) == 303


def field(html: str, name: str) -> str:
    """The value of the form field ``name`` in a page."""
    m = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert m, f"no field {name} in page"
    return m.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in; returns the session's CSRF token (read from the projects page)."""
    page = client.get("/login")
    r = client.post(
        "/login", data={"csrf": field(page.text, "csrf"), "name": name, "password": password}
    )
    assert r.status_code == 303, (r.status_code, r.text[-600:])
    return field(client.get("/").text, "csrf")


def next_item(client: TestClient, project: str = "p1") -> str | None:
    """The path of the rater's next item, or None when they are done."""
    r = client.get(f"/p/{project}")
    if r.status_code == 200:
        return None
    assert r.status_code == 303, (r.status_code, r.text[-600:])
    return str(r.headers["location"])
