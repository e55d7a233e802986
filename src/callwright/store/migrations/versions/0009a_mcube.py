"""mcube bridge: executive numbers reserved by live MCube calls, and an MCube call's media leg

Revision ID: 0009a_mcube
Revises: 0009a_webrtc
Create Date: 2026-12-06 10:25:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009a_mcube"
down_revision = "0009a_webrtc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("phone_numbers") as batch:
        batch.add_column(sa.Column("reserved_call_id", sa.String(36), nullable=True))
        batch.create_index("ix_phone_numbers_reserved_call_id", ["reserved_call_id"])
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("bridge_provider", sa.String(16), nullable=True))
        batch.add_column(sa.Column("bridge_connection_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("bridge_call_id", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("bridge_call_id")
        batch.drop_column("bridge_connection_id")
        batch.drop_column("bridge_provider")
    with op.batch_alter_table("phone_numbers") as batch:
        batch.drop_index("ix_phone_numbers_reserved_call_id")
        batch.drop_column("reserved_call_id")
