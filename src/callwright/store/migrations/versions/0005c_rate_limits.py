"""per-API-key request limits on partners (per minute; 0 = no limit)

Revision ID: 0005c
Revises: 0005b
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005c"
down_revision = "0005b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing partners get the Vocobase docs' limits: 60 requests and 10 call requests a minute.
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requests_per_minute", sa.Integer(), nullable=False, server_default="60")
        )
        batch_op.add_column(
            sa.Column("calls_per_minute", sa.Integer(), nullable=False, server_default="10")
        )


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("calls_per_minute")
        batch_op.drop_column("requests_per_minute")
