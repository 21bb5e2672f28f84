"""v1.1 operations: audit, mail, account links, withdrawals, grants, credentials

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 08:55:25.718123
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import ecampus.dbtypes

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("next_attempt_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_outbox_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mail_outbox_recipient"), ["recipient"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_outbox_status"), ["status"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("algorithm", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_table(
        "account_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_tokens_token_hash"), ["token_hash"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_account_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "attempt_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("item_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["granted_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attempt_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attempt_grants_learner_item", ["user_id", "course_id", "item_id"], unique=False
        )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "certificate_files",
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("rendered_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("certificate_id"),
    )
    op.create_table(
        "certificate_parts",
        sa.Column("diploma_id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["diploma_id"], ["certificates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("diploma_id", "certificate_id"),
    )
    with op.batch_alter_table("certificate_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_parts_certificate_id"), ["certificate_id"], unique=False
        )

    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("superseded_by", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(
            sa.Column("superseded_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("issuer", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("courses", sa.JSON(), nullable=True))

    with op.batch_alter_table("cohorts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("closed_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("withdrawn_at", ecampus.dbtypes.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("withdrawn_by_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_enrollments_last_activity_at"), ["last_activity_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_enrollments_withdrawn_at"), ["withdrawn_at"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_enrollments_withdrawn_by_id_users",
            "users",
            ["withdrawn_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_enrollments_withdrawn_by_id_users", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_enrollments_withdrawn_at"))
        batch_op.drop_index(batch_op.f("ix_enrollments_last_activity_at"))
        batch_op.drop_column("withdrawn_by_id")
        batch_op.drop_column("withdrawn_at")

    with op.batch_alter_table("cohorts", schema=None) as batch_op:
        batch_op.drop_column("closed_at")

    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_column("courses")
        batch_op.drop_column("issuer")
        batch_op.drop_column("superseded_at")
        batch_op.drop_column("superseded_by")

    with op.batch_alter_table("certificate_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_parts_certificate_id"))

    op.drop_table("certificate_parts")
    op.drop_table("certificate_files")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_actor"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
    with op.batch_alter_table("attempt_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_attempt_grants_learner_item")

    op.drop_table("attempt_grants")
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_account_tokens_token_hash"))

    op.drop_table("account_tokens")
    op.drop_table("signing_keys")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_mail_outbox_recipient"))
        batch_op.drop_index(batch_op.f("ix_mail_outbox_next_attempt_at"))

    op.drop_table("mail_outbox")
