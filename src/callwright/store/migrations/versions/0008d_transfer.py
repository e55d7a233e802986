"""transfer: a call's hand-off to a human (its destination and typed outcome)

Revision ID: 0008d
Revises: 0008c
Create Date: 2026-12-06 07:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008d"
down_revision = "0008c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("transfer", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("transfer")
