"""the voicemail second opinion's confidence and reason on the call

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_by_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("answered_by_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("answered_by_reason")
        batch_op.drop_column("answered_by_confidence")
