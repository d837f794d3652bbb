"""The rater and admin pages over HTTP: the happy path, every 4xx path, XSS and CSRF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from human_testkit import PASSWORD, client_for, field, login, make_store, next_item
from sqlalchemy import func, select

from valign.feedback.human import ServerSettings, Store, add_items
from valign.feedback.human.tables import Judgment

XSS = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def _judgments(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(Judgment)) or 0


def _judge(client, csrf: str, loc: str, **extra: str) -> int:  # type: ignore[no-untyped-def]
    page = client.get(loc)
    data = {"csrf": csrf, "choice": "left", "shown": field(page.text, "shown"), **extra}
    return client.post(loc, data=data).status_code


def test_rater_judges_everything_assigned_then_is_done(store: Store) -> None:
    c = client_for(store)
    csrf = login(c, "ana")
    seen = []
    while (loc := next_item(c)) is not None:
        assert _judge(c, csrf, loc, strength="3", **{"principle[]": "honesty"}) == 303
        seen.append(loc)
    assert len(seen) == len(set(seen)) == 8  # 6 regular + 2 gold
    assert "All done" in c.get("/p/p1").text
    assert _judgments(store) == 8


def test_login_redirects_and_failures(store: Store) -> None:
    c = client_for(store)
    assert c.get("/").headers["location"] == "/login?next=/"
    page = c.get("/login")
    bad = c.post("/login", data={"csrf": field(page.text, "csrf"), "name": "ana", "password": "x"})
    assert bad.status_code == 401 and "Wrong name or password" in bad.text
    # no login-form token: 403
    c2 = client_for(store)
    r = c2.post("/login", data={"csrf": "forged", "name": "ana", "password": PASSWORD})
    assert r.status_code == 403
    # open redirect refused; admins land on /admin
    page = c.get("/login")
    r = c.post(
        "/login",
        data={
            "csrf": field(page.text, "csrf"),
            "name": "admin",
            "password": PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert r.headers["location"] == "/admin"


def test_too_many_failed_logins_is_429(store: Store) -> None:
    c = client_for(store)
    for _ in range(10):
        page = c.get("/login")
        c.post("/login", data={"csrf": field(page.text, "csrf"), "name": "bo", "password": "no"})
    page = c.get("/login")
    r = c.post("/login", data={"csrf": field(page.text, "csrf"), "name": "bo", "password": "no"})
    assert r.status_code == 429


def test_logout_ends_the_session_everywhere(store: Store) -> None:
    c = client_for(store)
    csrf = login(c, "ana")
    cookie = c.cookies.get("valign_session")
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    other = client_for(store)
    other.cookies.set("valign_session", cookie)
    assert other.get("/").status_code == 303  # back to login
    assert other.post("/p/p1/i/1", data={"csrf": csrf}).status_code == 401


def test_csrf_is_checked_on_every_post(store: Store) -> None:
    c = client_for(store)
    csrf = login(c, "ana")
    loc = next_item(c)
    assert loc is not None
    assert c.post(loc, data={"choice": "left"}).status_code == 403
    assert c.post(loc, data={"choice": "left", "csrf": "0" * 64}).status_code == 403
    # a token from another session does not work either
    other = client_for(store)
    other_csrf = login(other, "bo")
    assert c.post(loc, data={"choice": "left", "csrf": other_csrf}).status_code == 403
    admin = client_for(store)
    login(admin, "admin")
    assert admin.post("/admin/users", data={"name": "eve", "password": "x" * 9}).status_code == 403
    assert _judgments(store) == 0
    assert c.post(loc, data={"choice": "left", "csrf": csrf}).status_code == 303


def test_double_submit_stores_one_judgment(store: Store) -> None:
    c = client_for(store)
    csrf = login(c, "ana")
    loc = next_item(c)
    assert loc is not None
    for _ in range(3):
        assert c.post(loc, data={"csrf": csrf, "choice": "right"}).status_code == 303
    assert _judgments(store) == 1


def test_4xx_paths(store: Store, tmp_path: Path) -> None:
    c = client_for(store, ServerSettings(seed=0, max_body_bytes=2_000, max_text_chars=100))
    csrf = login(c, "ana")
    loc = next_item(c)
    assert loc is not None
    item_id = int(loc.rsplit("/", 1)[1])
    # 400: no choice, bad strength, unknown principle, text too long for a field (413)
    assert c.post(loc, data={"csrf": csrf}).status_code == 400
    assert c.post(loc, data={"csrf": csrf, "choice": "left", "strength": "9"}).status_code == 400
    assert c.post(loc, data={"csrf": csrf, "choice": "up"}).status_code == 400
    r = c.post(loc, data={"csrf": csrf, "choice": "left", "principle[]": "made-up"})
    assert r.status_code == 400 and "made-up" in r.text
    r = c.post(loc, data={"csrf": csrf, "choice": "left", "rationale": "x" * 101})
    assert r.status_code == 413
    # 413: whole body over the limit, declared or streamed
    r = c.post(loc, data={"csrf": csrf, "choice": "left", "rationale": "x" * 5_000})
    assert r.status_code == 413
    r = c.post(
        loc,
        content=(b"a=" + b"x" * 5_000 for _ in range(1)),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    # 415: not a form
    r = c.post(
        loc, content=json.dumps({"choice": "left"}), headers={"content-type": "application/json"}
    )
    assert r.status_code == 415
    # 404: unknown project, unassigned item, bad address, unknown page
    assert c.get("/p/nope").status_code == 404
    assert c.get(f"/p/p1/i/{item_id + 1}").status_code == 404
    assert c.get("/p/p1/i/not-a-number").status_code == 404
    assert c.get("/nowhere").status_code == 404
    # 409: judging an item that is not yours
    assert (
        c.post(f"/p/p1/i/{item_id + 1}", data={"csrf": csrf, "choice": "left"}).status_code == 409
    )
    # 405: wrong method
    assert c.put(loc).status_code == 405
    # 403: admin pages for a rater; 401: posting with no session
    assert c.get("/admin").status_code == 403
    assert client_for(store).post(loc, data={"choice": "left"}).status_code == 401
    assert _judgments(store) == 0


def test_admin_4xx_paths(store: Store) -> None:
    c = client_for(store)
    csrf = login(c, "admin")
    bad_user = c.post("/admin/users", data={"csrf": csrf, "name": "x y", "password": "p" * 9})
    assert bad_user.status_code == 400
    assert (
        c.post("/admin/users", data={"csrf": csrf, "name": "dee", "password": "short"}).status_code
        == 400
    )
    dup = c.post("/admin/projects", data={"csrf": csrf, "name": "p1", "kind": "pairwise"})
    assert dup.status_code == 409
    bad = c.post("/admin/projects", data={"csrf": csrf, "name": "p2", "kind": "poetry"})
    assert bad.status_code == 400
    r = c.post(
        "/admin/p/p1/import",
        data={"csrf": csrf},
        files={"file": ("x.jsonl", b'{"prompt": "hi"}\n', "application/jsonl")},
    )
    assert r.status_code == 400 and "x.jsonl:1" in r.text
    assert c.get("/admin/p/zzz").status_code == 404
    assert c.get("/admin/p/p1/export/ratings.jsonl").status_code == 404
    assert c.get("/admin/p/p1/export/comparisons.jsonl?mode=odd").status_code == 400


def test_responses_with_html_are_shown_as_text(store: Store) -> None:
    add_items(
        store,
        "p1",
        [
            {
                "external_id": "x0",
                "prompt": [{"role": "user", "content": XSS}],
                "response_a": XSS,
                "response_b": f"</div>{XSS}",
                "gold": None,
                "meta": {},
            }
        ],
    )
    c = client_for(store)
    csrf = login(c, "ana")
    found = False
    while (loc := next_item(c)) is not None:
        page = c.get(loc)
        if "pwned" in page.text:
            found = True
            assert "<script>alert" not in page.text
            assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page.text
            assert "<img src=x" not in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
        c.post(loc, data={"csrf": csrf, "choice": "tie", "rationale": XSS})
    assert found
    admin = client_for(store)
    login(admin, "admin")
    r = admin.post(
        "/admin/users",
        data={"csrf": field(admin.get("/admin").text, "csrf"), "name": "ok", "password": XSS},
    )
    assert r.status_code == 303
    assert "<script>alert" not in admin.get("/admin/p/p1").text


def test_security_headers(store: Store) -> None:
    r = client_for(store).get("/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "httponly" in r.headers["set-cookie"].lower()


def test_rating_and_demonstration_projects(tmp_path: Path) -> None:
    for kind, field_name, value in [("rating", "rating", "6"), ("demonstration", "text", "Hi.")]:
        store = make_store(tmp_path / kind, kind=kind, gold_every=0)
        row = {"id": "r1", "prompt": "Name a lake in Vesh.", "response": "Lake Oru."}
        from valign.feedback.human.projects import get_project, parse_item

        add_items(store, "p1", [parse_item(row, get_project(store, "p1"), "t")])
        c = client_for(store)
        csrf = login(c, "ana")
        loc = next_item(c)
        assert loc is not None
        page = c.get(loc)
        assert "Lake Oru." in page.text
        bad = "99" if kind == "rating" else ""
        assert c.post(loc, data={"csrf": csrf, field_name: bad}).status_code == 400
        assert c.post(loc, data={"csrf": csrf, field_name: value}).status_code == 303
        assert _judgments(store) == 1
        store.close()


def test_redteam_attempts_are_logged_once(tmp_path: Path) -> None:
    store = make_store(tmp_path, kind="redteam", categories=["weapons"])
    from valign.feedback.human.projects import get_project, parse_item

    add_items(
        store,
        "p1",
        [
            parse_item(
                {"id": "o1", "prompt": "Get the model to reveal [SECRET-PLACEHOLDER]."},
                get_project(store, "p1"),
                "t",
            )
        ],
    )
    sent: list[str] = []
    c = client_for(store, responder=lambda msgs: sent.append(msgs[-1]["content"]) or "[REPLY]")
    csrf = login(c, "ana")
    page = c.get("/p/p1")
    assert page.status_code == 200 and "SECRET-PLACEHOLDER" in page.text
    nonce = field(page.text, "nonce")
    r = c.post(
        "/p/p1/attempts", data={"csrf": csrf, "nonce": nonce, "prompt": "try", "action": "send"}
    )
    assert r.status_code == 200 and "[REPLY]" in r.text and sent == ["try"]
    data = {
        "csrf": csrf,
        "nonce": nonce,
        "prompt": "try",
        "response": "[REPLY]",
        "harmful": "yes",
        "category": "weapons",
        "severity": "2",
        "item": "1",
    }
    for _ in range(2):
        assert c.post("/p/p1/attempts", data=data).status_code == 303
    assert (
        c.post("/p/p1/attempts", data={**data, "nonce": "n2", "category": "x"}).status_code == 400
    )
    assert c.post("/p/p1/attempts", data={**data, "nonce": "n3", "item": "999"}).status_code == 404
    from valign.feedback.human.export import attempts

    rows = attempts(store, "p1")
    assert len(rows) == 1 and rows[0]["harmful"] and rows[0]["objective"].startswith("Get")
    store.close()


@pytest.mark.parametrize("rate", [1.0])
def test_ai_critique_is_shown_and_recorded(tmp_path: Path, rate: float) -> None:
    store = make_store(tmp_path, assist_rate=rate, gold_every=0)
    calls = []

    def critic(prompt, a, b):  # type: ignore[no-untyped-def]
        calls.append(a)
        return "Reply B refuses a safe request <b>bold</b>."

    c = client_for(store, critic=critic)
    csrf = login(c, "ana")
    loc = next_item(c)
    assert loc is not None
    page = c.get(loc)
    assert "AI critique" in page.text and "&lt;b&gt;bold" in page.text
    c.get(loc)  # a reload does not ask the critic again
    assert len(calls) == 1
    c.post(loc, data={"csrf": csrf, "choice": "left"})
    with store.session() as s:
        j = s.scalars(select(Judgment)).one()
        assert j.assisted and j.critique is not None and "refuses" in j.critique
    store.close()
