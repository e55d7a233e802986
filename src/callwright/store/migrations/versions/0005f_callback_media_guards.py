"""callbacks and media sockets that cannot be replayed or taken over

Per call: whether its carrier call id is the carrier's final word, whether the carrier itself
decided ``answered_by``, which media socket holds its stream, and when its answer document was
served. And the carrier signature nonces already spent, until they expire.

Revision ID: 0005f
Revises: 0005e
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = "0005f"
down_revision = "0005e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provider_call_id_final", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("answered_by_carrier", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("media_socket_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("answer_served_at", callwright.store.models.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "callback_nonces",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("expires_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_callback_nonces")),
    )
    with op.batch_alter_table("callback_nonces", schema=None) as batch_op:
        batch_op.create_index("ix_callback_nonces_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callback_nonces", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_nonces_expires_at")
    op.drop_table("callback_nonces")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("answer_served_at")
        batch_op.drop_column("media_socket_id")
        batch_op.drop_column("answered_by_carrier")
        batch_op.drop_column("provider_call_id_final")
