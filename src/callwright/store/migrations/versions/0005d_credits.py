"""credits: call rates (partner, agent, call), balances and the credit ledger

Revision ID: 0005d
Revises: 0005c
Create Date: 2026-12-01 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005d"
down_revision = "0005c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_paise_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("credit_balance_paise", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_paise_per_minute", sa.Integer(), nullable=True))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_paise_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("credits_used_paise", sa.BigInteger(), nullable=True))
    op.create_table(
        "credit_ledger",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=True),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("billed_seconds", sa.Integer(), nullable=True),
        sa.Column("rate_paise_per_minute", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_credit_ledger_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_ledger")),
        sa.UniqueConstraint("call_id", name=op.f("uq_credit_ledger_call_id")),
    )
    op.create_index(
        "ix_credit_ledger_partner_created", "credit_ledger", ["partner_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_credit_ledger_partner_created", table_name="credit_ledger")
    op.drop_table("credit_ledger")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("credits_used_paise")
        batch_op.drop_column("rate_paise_per_minute")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("rate_paise_per_minute")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("credit_balance_paise")
        batch_op.drop_column("rate_paise_per_minute")
