"""audiodict: partners' background-audio uploads, speech-recognition dictionaries and their agents

Revision ID: 0009a_audiodict
Revises: 0009k_kb
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = "0009a_audiodict"
down_revision = "0009k_kb"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "background_audio",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("duration_secs", sa.Float(), nullable=True),
        sa.Column("sample_rate", sa.Integer(), nullable=True),
        sa.Column("channels", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_background_audio_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_background_audio")),
        sa.UniqueConstraint("slug", name=op.f("uq_background_audio_slug")),
    )
    with op.batch_alter_table("background_audio", schema=None) as batch_op:
        batch_op.create_index("ix_background_audio_partner_created", ["partner_id", "created_at"], unique=False)
    op.create_table(
        "dictionaries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("char_count", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_dictionaries_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dictionaries")),
        sa.UniqueConstraint("partner_id", "name", name=op.f("uq_dictionaries_partner_id_name")),
    )
    with op.batch_alter_table("dictionaries", schema=None) as batch_op:
        batch_op.create_index("ix_dictionaries_partner_created", ["partner_id", "created_at"], unique=False)
    op.create_table(
        "agent_dictionaries",
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("dictionary_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_dictionaries_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["dictionary_id"], ["dictionaries.id"], name=op.f("fk_agent_dictionaries_dictionary_id_dictionaries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "dictionary_id", name=op.f("pk_agent_dictionaries")),
    )
    with op.batch_alter_table("agent_dictionaries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_dictionaries_dictionary_id"), ["dictionary_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agent_dictionaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_dictionaries_dictionary_id"))
    op.drop_table("agent_dictionaries")
    with op.batch_alter_table("dictionaries", schema=None) as batch_op:
        batch_op.drop_index("ix_dictionaries_partner_created")
    op.drop_table("dictionaries")
    with op.batch_alter_table("background_audio", schema=None) as batch_op:
        batch_op.drop_index("ix_background_audio_partner_created")
    op.drop_table("background_audio")
