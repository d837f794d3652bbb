"""Failed-login counters in the database (the lockout holds across processes and restarts).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=False),
        sa.Column("last_failure", sa.Float(), nullable=False),
    )
    op.create_index("ix_login_failures_last_failure", "login_failures", ["last_failure"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_last_failure", "login_failures")
    op.drop_table("login_failures")
