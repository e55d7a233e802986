"""campaign guards: circuit breaker, caller-ID rotation, the partner's DND check URL

Revision ID: 0007c
Revises: 0006b
Create Date: 2026-12-06 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = "0007c"
down_revision = "0006b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Campaigns created before the breaker existed keep running without one (NULL).
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("circuit_breaker", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("caller_ids", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
    with op.batch_alter_table("campaign_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_attempts_campaign_ended", ["campaign_id", "ended_at"], unique=False)
    op.create_table(
        "dnd_checks",
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("on_error", sa.String(length=8), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("created_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_dnd_checks_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_dnd_checks")),
    )


def downgrade() -> None:
    op.drop_table("dnd_checks")
    with op.batch_alter_table("campaign_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_attempts_campaign_ended")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("caller_ids")
        batch_op.drop_column("circuit_breaker")
