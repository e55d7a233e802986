"""projects: a Default project for every partner, every agent in one project, calls keep theirs

Revision ID: 0005e
Revises: 0005d
Create Date: 2026-12-01 12:00:00.000000
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005e"
down_revision = "0005d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    projects = op.create_table(
        "projects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("rate_paise_per_minute", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_projects_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index("ix_projects_partner_created", "projects", ["partner_id", "created_at"], unique=False)
    op.create_index(
        "uq_projects_one_default",
        "projects",
        ["partner_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
        sqlite_where=sa.text("is_default"),
    )

    # Every existing partner gets its Default project, and its agents go into it.
    connection = op.get_bind()
    now = datetime.now(UTC)
    partner_ids = connection.execute(sa.text("SELECT id FROM partners")).scalars().all()
    if partner_ids:
        op.bulk_insert(
            projects,
            [
                {
                    "id": str(uuid.uuid4()),
                    "partner_id": partner_id,
                    "name": "Default",
                    "description": None,
                    "is_default": True,
                    "rate_paise_per_minute": None,
                    "created_at": now,
                    "updated_at": now,
                }
                for partner_id in partner_ids
            ],
        )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.String(length=36), nullable=True))
    connection.execute(
        sa.text(
            "UPDATE agents SET project_id = (SELECT projects.id FROM projects "
            "WHERE projects.partner_id = agents.partner_id AND projects.is_default)"
        )
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.String(length=36), nullable=False)
        batch_op.create_foreign_key(op.f("fk_agents_project_id_projects"), "projects", ["project_id"], ["id"])
        batch_op.create_index("ix_agents_partner_project", ["partner_id", "project_id"], unique=False)

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_calls_partner_project", ["partner_id", "project_id", "created_at"], unique=False)
    connection.execute(
        sa.text(
            "UPDATE calls SET project_id = (SELECT agents.project_id FROM agents WHERE agents.id = calls.agent_id)"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_partner_project")
        batch_op.drop_column("project_id")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index("ix_agents_partner_project")
        batch_op.drop_constraint(op.f("fk_agents_project_id_projects"), type_="foreignkey")
        batch_op.drop_column("project_id")
    op.drop_index("uq_projects_one_default", table_name="projects")
    op.drop_index("ix_projects_partner_created", table_name="projects")
    op.drop_table("projects")
