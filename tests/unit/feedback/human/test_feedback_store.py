from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from valign.errors import UserError
from valign.feedback.human.store import Store, normalise_url
from valign.feedback.human.tables import Base


def test_migrations_build_exactly_the_declared_schema(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "a.db"))
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    store.upgrade()  # a second run is a no-op
    assert "judgments" in store.tables()
    assert store.secret() == Store(str(tmp_path / "a.db")).secret()  # kept across restarts


def test_urls() -> None:
    assert normalise_url("runs/fb.db").startswith("sqlite:///")
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(UserError):
        Store("nosuchdialect+x://")
