"""sessions that end: user_sessions, session_version, ids never reused

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 06:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        # AUTOINCREMENT is part of the table's definition on SQLite: rebuild the table, so a
        # deleted account's id is never handed to the next one (env.py turns foreign keys off
        # for the rebuild, so no row pointing at a user is touched).
        with op.batch_alter_table(
            "users", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ) as batch_op:
            batch_op.add_column(
                sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
            )
    else:
        op.add_column(
            "users", sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "user_sessions",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_user_sessions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")
    if _sqlite():
        with op.batch_alter_table(
            "users", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ) as batch_op:
            batch_op.drop_column("session_version")
    else:
        op.drop_column("users", "session_version")
