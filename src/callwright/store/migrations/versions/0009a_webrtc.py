"""browser sessions: a partner talking to an agent from a browser over WebRTC

Revision ID: 0009a_webrtc
Revises: 0009a_audiodict
Create Date: 2026-12-06 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = "0009a_webrtc"
down_revision = "0009a_audiodict"
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, callwright.store.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("agent", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("offer_received_at"),
        _when("started_at"),
        _when("first_agent_audio_at"),
        _when("ended_at"),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("latency", sa.JSON(), nullable=True),
        _when("session_completed_at"),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_browser_sessions_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
    )
    op.create_index(
        "ix_browser_sessions_partner_created", "browser_sessions", ["partner_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_browser_sessions_partner_created", table_name="browser_sessions")
    op.drop_table("browser_sessions")
