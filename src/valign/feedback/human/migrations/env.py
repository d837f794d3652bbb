"""Alembic environment: runs on the connection that ``valign.feedback.human.store`` passes in.

There is no alembic.ini; the store builds the configuration in code so that a database is
brought up to date by the server itself (``valign feedback serve``) or ``valign feedback init``.
"""

from __future__ import annotations

from alembic import context

from valign.feedback.human.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
