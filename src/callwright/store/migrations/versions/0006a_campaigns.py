"""campaigns: contacts book, campaigns, their contacts and attempts; calls know their campaign

Revision ID: 0006a
Revises: 0005f
Create Date: 2026-12-06 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = "0006a"
down_revision = "0005f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("concurrency_limit", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("retry", sa.JSON(), nullable=False),
        sa.Column("started_at", callwright.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", callwright.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", callwright.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", callwright.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("created_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_campaigns_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_partner_created", ["partner_id", "created_at"], unique=False)
        batch_op.create_index("ix_campaigns_status", ["status"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_contacts_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("partner_id", "phone", name=op.f("uq_contacts_partner_id_phone")),
    )
    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_seq", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", callwright.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("result_reason", sa.Text(), nullable=True),
        sa.Column("current_call_id", sa.String(length=36), nullable=True),
        sa.Column("finished_at", callwright.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_contacts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_campaign_contacts_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_contacts")),
        sa.UniqueConstraint("campaign_id", "phone", name=op.f("uq_campaign_contacts_campaign_id_phone")),
    )
    with op.batch_alter_table("campaign_contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_contacts_due", ["campaign_id", "state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_campaign_contacts_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index("ix_campaign_contacts_position", ["campaign_id", "position"], unique=False)

    op.create_table(
        "campaign_attempts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("campaign_contact_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=True),
        sa.Column("ended_at", callwright.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_contact_id"],
            ["campaign_contacts.id"],
            name=op.f("fk_campaign_attempts_campaign_contact_id_campaign_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_attempts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_attempts")),
        sa.UniqueConstraint("call_id", name=op.f("uq_campaign_attempts_call_id")),
        sa.UniqueConstraint(
            "campaign_contact_id", "number", name=op.f("uq_campaign_attempts_campaign_contact_id_number")
        ),
    )
    with op.batch_alter_table("campaign_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_attempts_campaign_id"), ["campaign_id"], unique=False)

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("campaign_contact_id", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_calls_campaign_status", ["campaign_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_campaign_status")
        batch_op.drop_column("campaign_contact_id")
        batch_op.drop_column("campaign_id")

    with op.batch_alter_table("campaign_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_attempts_campaign_id"))

    op.drop_table("campaign_attempts")
    with op.batch_alter_table("campaign_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_contacts_position")
        batch_op.drop_index(batch_op.f("ix_campaign_contacts_partner_id"))
        batch_op.drop_index("ix_campaign_contacts_due")

    op.drop_table("campaign_contacts")
    op.drop_table("contacts")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_status")
        batch_op.drop_index("ix_campaigns_partner_created")

    op.drop_table("campaigns")
