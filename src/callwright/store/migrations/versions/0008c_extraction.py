"""extraction: post-call extraction's block and durable job on calls

Revision ID: 0008c
Revises: 0007d
Create Date: 2026-12-06 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = "0008c"
down_revision = "0008a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("extraction", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("extraction_due_at", callwright.store.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_calls_extraction_due", ["extraction_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_extraction_due")
        batch.drop_column("extraction_due_at")
        batch.drop_column("extraction")
