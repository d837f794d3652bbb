"""The rating app on PostgreSQL: migrations, the pages, concurrent submits, the login lockout
under concurrent attempts and forged headers, malformed input and fuzzing, and the start-up
check of a database it cannot write.

Needs ``VALIGN_TEST_POSTGRES_URL`` (``.ci/run`` starts a server and sets it); skipped
without it unless ``VALIGN_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from valign.errors import UserError
from valign.feedback.human import Store
from valign.feedback.human.forms import JudgmentIn
from valign.feedback.human.lockout import Locked, Policy, Ticket, begin, keys_for
from valign.feedback.human.projects import get_project
from valign.feedback.human.record import record_judgment
from valign.feedback.human.store import drop_tables
from valign.feedback.human.tables import Base, Judgment, User

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "feedback" / "human"))
import test_feedback_app as app_cases
from fuzz_testkit import fuzz_app
from human_testkit import (
    app_for,
    check_concurrent_wrong_passwords,
    check_forged_forwarded_for,
    client_for,
    login,
    make_store,
    next_item,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = os.environ.get("VALIGN_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("VALIGN_REQUIRE_SERVICES") == "1":
            pytest.fail("PostgreSQL is required here (VALIGN_REQUIRE_SERVICES=1)")
        pytest.skip("PostgreSQL is not available (set VALIGN_TEST_POSTGRES_URL)")
    drop_tables(url)
    yield url
    drop_tables(url)


def _pg_store(url: str) -> Store:
    """make_store's accounts and project, on PostgreSQL instead of a SQLite file."""
    import human_testkit

    real = human_testkit.Store
    human_testkit.Store = lambda _path: real(url)  # type: ignore[assignment,misc]
    try:
        return make_store(Path("unused"))
    finally:
        human_testkit.Store = real  # type: ignore[misc]


def test_migrations_and_pages_on_postgres(pg_url: str) -> None:
    store = _pg_store(pg_url)
    assert store.dialect == "postgresql"
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    c = client_for(store)
    csrf = login(c, "ana")
    n = 0
    while (loc := next_item(c)) is not None:
        assert c.post(loc, data={"csrf": csrf, "choice": "left"}).status_code == 303
        assert c.post(loc, data={"csrf": csrf, "choice": "left"}).status_code == 303
        n += 1
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Judgment)) == n == 8
    store.close()


def test_concurrent_submits_of_one_judgment_store_it_once(pg_url: str) -> None:
    store = _pg_store(pg_url)
    c = client_for(store)
    login(c, "ana")
    loc = next_item(c)
    assert loc is not None
    item_id = int(loc.rsplit("/", 1)[1])
    pid = get_project(store, "p1").id
    with store.session() as s:
        uid = s.scalar(select(User.id).where(User.name == "ana"))
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        barrier.wait()
        outcomes.append(record_judgment(store, pid, item_id, uid, JudgmentIn(choice="A")))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["duplicate"] * 7 + ["stored"]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Judgment)) == 1
    store.close()


def test_lockout_holds_under_concurrent_attempts_on_postgres(pg_url: str) -> None:
    store = _pg_store(pg_url)
    policy = Policy(after=4)
    keys = keys_for(policy, "cy", "203.0.113.9")
    barrier = threading.Barrier(12)
    tickets: list[Ticket] = []
    refused: list[Locked] = []

    def attempt() -> None:
        barrier.wait()
        try:
            tickets.append(begin(store, keys, policy, 1_000_000.0))
        except Locked as exc:
            refused.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(t.counts["account:cy"] for t in tickets) == [1, 2, 3, 4]
    assert len(refused) == 8
    check_concurrent_wrong_passwords(store)
    check_forged_forwarded_for(app_for(store), name="bo", other="admin")  # ana is locked
    store.close()


def test_malformed_input_is_4xx_on_postgres(pg_url: str) -> None:
    store = _pg_store(pg_url)
    app_cases.test_known_malformed_requests_are_4xx_with_headers(store)
    app_cases.test_import_form_refuses_what_no_database_stores(store)
    app_cases.test_form_bytes_must_be_utf8_and_are_stored_as_sent(store)
    store.close()


def test_fuzzed_requests_never_reach_500_on_postgres(pg_url: str) -> None:
    store = _pg_store(pg_url)
    fuzz_app(store, app_cases.EXAMPLES // 2)
    store.close()


def test_a_database_it_cannot_write_is_refused_at_start_up(pg_url: str) -> None:
    _pg_store(pg_url).close()
    admin = Store(pg_url)
    with admin.engine.begin() as conn:
        conn.execute(
            text(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'valign_reader')"
                " THEN CREATE ROLE valign_reader LOGIN; END IF; END $$"
            )
        )
        conn.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA public TO valign_reader"))
    admin.close()
    reader = Store(make_url(pg_url).set(username="valign_reader").render_as_string(False))
    with pytest.raises(UserError, match=r"cannot write .*: permission denied for table settings"):
        reader.check()
    reader.close()
