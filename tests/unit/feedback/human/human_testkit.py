"""Helpers for the rating app's tests: a filled database and logged-in test clients."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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


def client_for(store: Store, settings: ServerSettings | None = None, **kw: Any) -> TestClient:
    app = create_app(
        store,
        settings or ServerSettings(seed=0),
        principle_texts={p: f"Text of {p}." for p in PRINCIPLES},
        **kw,
    )
    return TestClient(app, follow_redirects=False)


def field(html: str, name: str) -> str:
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
