from __future__ import annotations

import random
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
    with pytest.raises(UserError, match="unsupported database: mysql"):
        Store("mysql://u@h/db")


def test_unusable_databases_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(UserError, match=r"folder .*afile: a file is in the way"):
        Store(str(tmp_path / "afile" / "fb.db"))
    (tmp_path / "noise.db").write_bytes(random.Random(0).randbytes(8192))
    with pytest.raises(UserError, match=r"cannot open .*: file is not a database"):
        Store(str(tmp_path / "noise.db"))
    Store(str(tmp_path / "fb.db")).close()
    # at the newest schema a read-only database opens, then fails the write check
    read_only = Store(f"sqlite:///file:{tmp_path / 'fb.db'}?mode=ro&uri=true")
    with pytest.raises(UserError, match=r"cannot write .*: attempt to write a readonly database"):
        read_only.check()
    Store(str(tmp_path / "fb.db")).check()  # a writable one passes
