"""connections_numbers: named connections (is_default, status) and their phone numbers

Every existing connection was its provider's only one: it becomes the default, named after its
provider (``default`` -> ``Vobiz``).

Revision ID: 0008a
Revises: 0007d
Create Date: 2026-12-06 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = "0008a"
down_revision = "0007d"
branch_labels = None
depends_on = None

_DISPLAY_NAMES = {
    "vobiz": "Vobiz",
    "plivo": "Plivo",
    "twilio": "Twilio",
    "exotel": "Exotel",
    "mcube": "MCube",
}


def upgrade() -> None:
    with op.batch_alter_table("telephony_connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_default", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="ACTIVE", nullable=False)
        )
    connections = sa.table(
        "telephony_connections", sa.column("provider", sa.String), sa.column("name", sa.String)
    )
    for provider, display in _DISPLAY_NAMES.items():
        op.execute(
            connections.update()
            .where(connections.c.provider == provider, connections.c.name == "default")
            .values(name=display)
        )
    op.create_table(
        "phone_numbers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("phone_number", sa.String(length=32), nullable=False),
        sa.Column("friendly_name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("carrier_ref", sa.String(length=128), nullable=True),
        sa.Column("carrier_route", sa.Text(), nullable=True),
        sa.Column("bound_route", sa.Text(), nullable=True),
        sa.Column("created_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_phone_numbers_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["telephony_connections.id"],
            name=op.f("fk_phone_numbers_connection_id_telephony_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_phone_numbers_agent_id_agents"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
        sa.UniqueConstraint(
            "connection_id", "phone_number", name=op.f("uq_phone_numbers_connection_id_phone_number")
        ),
    )
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phone_numbers_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_phone_numbers_connection_id"), ["connection_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_phone_numbers_agent_id"), ["agent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phone_numbers_agent_id"))
        batch_op.drop_index(batch_op.f("ix_phone_numbers_connection_id"))
        batch_op.drop_index(batch_op.f("ix_phone_numbers_partner_id"))
    op.drop_table("phone_numbers")
    connections = sa.table(
        "telephony_connections",
        sa.column("id", sa.String),
        sa.column("provider", sa.String),
        sa.column("name", sa.String),
        sa.column("is_default", sa.Boolean),
    )
    # Only the defaults survive a downgrade's one-connection-per-carrier model.
    op.execute(connections.delete().where(connections.c.is_default == sa.false()))
    op.execute(connections.update().values(name="default"))
    with op.batch_alter_table("telephony_connections", schema=None) as batch_op:
        batch_op.drop_column("status")
        batch_op.drop_column("is_default")
