"""The rating app on PostgreSQL: migrations, the pages, and concurrent submits.

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
from sqlalchemy import func, select

from valign.feedback.human import Store
from valign.feedback.human.forms import JudgmentIn
from valign.feedback.human.projects import get_project
from valign.feedback.human.record import record_judgment
from valign.feedback.human.store import drop_tables
from valign.feedback.human.tables import Base, Judgment, User

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "feedback" / "human"))
from human_testkit import client_for, login, make_store, next_item

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
