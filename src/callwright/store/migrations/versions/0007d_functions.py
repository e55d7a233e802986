"""functions: custom functions (HTTP tools) and their attachment to agents

Revision ID: 0007d
Revises: 0006b
Create Date: 2026-12-06 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = "0007d"
down_revision = "0007c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "functions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("header_keys", sa.JSON(), nullable=False),
        sa.Column("sealed_headers", sa.Text(), nullable=False),
        sa.Column("input_schema", sa.JSON(), nullable=False),
        sa.Column("output_schema", sa.JSON(), nullable=False),
        sa.Column("timeout_secs", sa.Integer(), nullable=False),
        sa.Column("started_messages", sa.JSON(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callwright.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_functions_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_functions")),
        sa.UniqueConstraint("partner_id", "name", name=op.f("uq_functions_partner_id_name")),
    )
    with op.batch_alter_table("functions", schema=None) as batch_op:
        batch_op.create_index("ix_functions_partner_created", ["partner_id", "created_at"], unique=False)
    op.create_table(
        "agent_functions",
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("function_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_functions_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["function_id"], ["functions.id"], name=op.f("fk_agent_functions_function_id_functions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "function_id", name=op.f("pk_agent_functions")),
    )
    with op.batch_alter_table("agent_functions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_functions_function_id"), ["function_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agent_functions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_functions_function_id"))
    op.drop_table("agent_functions")
    with op.batch_alter_table("functions", schema=None) as batch_op:
        batch_op.drop_index("ix_functions_partner_created")
    op.drop_table("functions")
