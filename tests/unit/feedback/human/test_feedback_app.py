"""The app as a whole under malformed input: every request is answered below 500, with the
security headers. Known cases first, then property-based fuzzing of every form and address
(hypothesis, in-process, a few hundred examples)."""

from __future__ import annotations

import os
from pathlib import Path

from fuzz_testkit import assert_safe, fuzz_app
from human_testkit import client_for, login, make_store, next_item
from sqlalchemy import select

from valign.feedback.human import Store
from valign.feedback.human.tables import Judgment

EXAMPLES = int(os.environ.get("VALIGN_FUZZ_EXAMPLES", "240"))


def test_known_malformed_requests_are_4xx_with_headers(store: Store) -> None:
    c = client_for(store)
    csrf = login(c, "ana")
    loc = next_item(c)
    assert loc is not None
    huge = "99999999999999999999999"
    for r, status in [
        (c.get(f"/p/p1/i/{huge}"), 404),
        (c.post(f"/p/p1/i/{huge}", data={"csrf": csrf, "choice": "left"}), 400),
        (c.get("/p/p1/i/-1"), 404),
        (c.get("/p/%00"), 404),
        (c.get("/admin/p/%00x"), 403),  # a rater: not an admin page for them either way
        (c.post(loc, data={"csrf": csrf, "choice": "left", "rationale": "a\x00b"}), 400),
        (c.post(loc, data={"csrf": csrf, "choice": ["left", "right"]}), 400),
        (c.post(loc, data={"csrf": csrf, "choice": "left", "strength": huge * 300}), 400),
        (
            c.post(
                loc,
                files={"file": ("x", b"y")},
                data={"csrf": csrf, "choice": "left"},
            ),
            415,
        ),
        (
            c.post(
                loc,
                content=b"csrf=x&choice=left&a=" + b"&a=" * 300,
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            413,
        ),
        (
            c.post(
                loc,
                content=b"choice=left",
                headers={
                    "content-type": "application/x-www-form-urlencoded",
                    "content-length": "x",
                },
            ),
            400,
        ),
    ]:
        assert r.status_code == status, (r.request.url, r.status_code, r.text[-300:])
        assert_safe(r)
    with store.session() as s:
        assert s.scalars(select(Judgment)).first() is None


def test_import_form_refuses_what_no_database_stores(store: Store) -> None:
    c = client_for(store)
    csrf = login(c, "admin")
    for content, message in [
        (b"[" * 100_000, "upload.jsonl:1: nested more than 32 levels deep"),
        (b'{"prompt": "p", "response_a": "\\u0000", "response_b": "b"}', "NUL character"),
        (b"\xff\xfe{}", "the file is not UTF-8 text"),
    ]:
        r = c.post(
            "/admin/p/p1/import",
            data={"csrf": csrf},
            files={"file": ("upload.jsonl", content, "application/jsonl")},
        )
        assert r.status_code == 400 and message in r.text, r.text[-300:]
        assert_safe(r)
    # the import form is the only one that takes multipart
    r = c.post("/admin/users", data={"csrf": csrf}, files={"file": ("x", b"y")})
    assert r.status_code == 415


def test_form_bytes_must_be_utf8_and_are_stored_as_sent(store: Store) -> None:
    c = client_for(store)
    csrf = login(c, "ana")
    loc = next_item(c)
    assert loc is not None
    form = {"content-type": "application/x-www-form-urlencoded"}
    for body in [
        f"csrf={csrf}&choice=left&rationale=caf\xe9".encode("latin-1"),  # raw Latin-1
        f"csrf={csrf}&choice=left&rationale=caf%E9".encode(),  # an escaped Latin-1 byte
        f"csrf={csrf}&choice=left&rationale=%ED%A0%80".encode(),  # an escaped surrogate
    ]:
        r = c.post(loc, content=body, headers=form)
        assert r.status_code == 400 and "UTF-8" in r.text, body
        assert_safe(r)
    # raw UTF-8 (not percent-escaped) and escaped UTF-8 both arrive as the text they are
    body = f"csrf={csrf}&choice=left&rationale=café – %E2%9C%93".encode()
    assert c.post(loc, content=body, headers=form).status_code == 303
    with store.session() as s:
        assert s.scalars(select(Judgment.rationale)).one() == "café – ✓"


def test_an_unexpected_error_is_a_500_with_headers(store: Store) -> None:
    c = client_for(store)
    login(c, "ana")
    store.engine.dispose()
    store.engine.pool._creator = lambda: (_ for _ in ()).throw(RuntimeError("gone"))  # type: ignore[attr-defined]
    r = c.get("/p/p1")
    assert r.status_code == 500 and r.text == "internal error"
    assert_safe(r, allow_500=True)


def test_health_reports_the_database(store: Store, tmp_path: Path) -> None:
    c = client_for(store)
    assert c.get("/health").json() == {"status": "ok"}
    store.engine.dispose()
    (tmp_path / "fb.db").write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"fb.db{suffix}").unlink(missing_ok=True)
    r = c.get("/health")
    assert r.status_code == 503 and r.json() == {"status": "database unavailable"}


def test_fuzzed_requests_never_reach_500(tmp_path: Path) -> None:
    store = make_store(tmp_path, n=4, gold=0)
    fuzz_app(store, EXAMPLES)
    store.close()
