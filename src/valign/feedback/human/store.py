"""Opening the database: engine, migrations, and transactions that commit before replying.

SQLite (the default, a file next to the user) and PostgreSQL (``postgresql+psycopg://...``)
run the same code. On SQLite, writers queue on one in-process lock and every transaction
starts with ``BEGIN IMMEDIATE``: SQLite allows one writer at a time, and a transaction that
read first and then tried to write would otherwise fail at once with "database is locked"
when another writer got in between. WAL mode lets readers of other processes (an export
while the server runs) proceed, and ``synchronous=FULL`` makes a commit durable before the
server acknowledges the judgment.

A database that cannot be opened, migrated, written or read is a :class:`UserError` (one
line, exit code 2) when it is opened or :meth:`Store.check`-ed, which the commands that
write do at start-up, rather than a failed request later.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from valign.errors import UserError
from valign.feedback.human.tables import Setting

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(db: str) -> str:
    """A SQLAlchemy URL from what a user types: a path means a SQLite file."""
    if "://" in db:
        if db.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + db.split("://", 1)[1]
        return db
    return f"sqlite:///{Path(db).expanduser()}"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the begin hook below issue BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def drop_tables(url: str) -> None:
    """Remove the app's tables (tests and benchmarks that reuse one PostgreSQL database)."""
    from sqlalchemy import text

    from valign.feedback.human.tables import Base

    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        for table in [*(t.name for t in reversed(Base.metadata.sorted_tables)), "alembic_version"]:
            conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()


class Store:
    """The database of one rating server."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = normalise_url(url)
        try:
            parsed = make_url(self.url)
        except ArgumentError:
            raise UserError(f"not a database URL: {url}") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise UserError(f"unsupported database: {self.dialect} (use SQLite or PostgreSQL)")
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                folder = Path(parsed.database).parent
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    why = (
                        "a file is in the way" if isinstance(exc, FileExistsError) else exc.strerror
                    )
                    raise UserError(f"cannot make the database's folder {folder}: {why}") from None
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False})
            _sqlite_pragmas(self.engine)
        else:
            try:
                self.engine = create_engine(self.url, pool_size=20, max_overflow=20)
            except ModuleNotFoundError as exc:
                raise UserError(
                    f"no driver for {self.dialect} ({exc.name}); pip install 'valign[postgres]'"
                ) from None
            except NoSuchModuleError:
                raise UserError(f"unsupported database: {self.dialect}") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        if migrate:
            self.upgrade()

    def upgrade(self) -> None:
        """Bring the schema up to the newest migration (a no-op when it already is)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except DBAPIError as exc:
            raise UserError(f"cannot open the database {self.safe_url}: {_reason(exc)}") from None

    def check(self) -> None:
        """Write a row and read it back in another transaction, so that a database which is
        read-only, full or not a database at all is reported now (UserError), not by the
        first judgment."""
        token = secrets.token_urlsafe(12)
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = insert(Setting).values(key="write-check", value=token)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"value": token})
        try:
            with self.session() as s:
                s.execute(stmt)
        except DBAPIError as exc:
            raise UserError(f"cannot write the database {self.safe_url}: {_reason(exc)}") from None
        try:
            with self.session() as s:
                row = s.get(Setting, "write-check")
                got = None if row is None else row.value
        except DBAPIError as exc:
            raise UserError(f"cannot read the database {self.safe_url}: {_reason(exc)}") from None
        if got != token:
            raise UserError(f"the database {self.safe_url} did not keep a row written to it")

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def tables(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction that commits on leaving the block (so before any reply is sent)."""
        lock = self._write_lock or nullcontext()
        with lock, self._sessions() as session, session.begin():
            yield session

    def secret(self) -> str:
        """The cookie-signing secret, made once and kept in the database."""
        with self.session() as s:
            row = s.get(Setting, "secret")
            if row is None:
                row = Setting(key="secret", value=secrets.token_urlsafe(32))
                s.add(row)
            return row.value

    def close(self) -> None:
        self.engine.dispose()


def _reason(exc: DBAPIError) -> str:
    """The first line of the driver's message (PostgreSQL adds DETAIL and HINT lines)."""
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__
