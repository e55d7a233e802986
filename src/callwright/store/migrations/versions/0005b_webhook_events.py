"""the event types each webhook endpoint receives

New endpoints receive ``session.completed`` only (the one event Vocobase documents); endpoints
that exist already received every event type, and keep receiving them all.

Revision ID: 0005b
Revises: 0004
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005b"
down_revision = "0004"
branch_labels = None
depends_on = None

# Written out, not imported: a migration keeps meaning what it meant when it was written.
_NEW_ENDPOINTS = '["session.completed"]'
_EXISTING_ENDPOINTS = '["call.ringing", "call.answered", "call.ended", "session.completed"]'


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("events", sa.JSON(), nullable=False, server_default=sa.text(f"'{_NEW_ENDPOINTS}'"))
        )
    webhook_endpoints = sa.table("webhook_endpoints", sa.column("events", sa.JSON()))
    op.execute(webhook_endpoints.update().values(events=sa.text(f"'{_EXISTING_ENDPOINTS}'")))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("events")
