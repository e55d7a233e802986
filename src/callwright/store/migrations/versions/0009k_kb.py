"""kb: the knowledge base's documents (with their ingestion job), passages, folders and links

Revision ID: 0009k_kb
Revises: 0008d
Create Date: 2026-12-06 09:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = "0009k_kb"
down_revision = "0008d"
branch_labels = None
depends_on = None

UTC = callwright.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_documents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("partner_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("doc_type", sa.String(16), nullable=False),
        sa.Column("mime_type", sa.String(120), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("storage_key", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("ingest_due_at", UTC, nullable=True),
        sa.Column("ingest_attempts", sa.Integer(), nullable=False),
        sa.Column("ready_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_kb_documents_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_documents")),
    )
    op.create_index("ix_kb_documents_partner_created", "kb_documents", ["partner_id", "created_at"])
    op.create_index(op.f("ix_kb_documents_ingest_due_at"), "kb_documents", ["ingest_due_at"])
    op.create_table(
        "kb_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_kb_chunks_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["kb_documents.id"], name=op.f("fk_kb_chunks_document_id_kb_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_chunks")),
    )
    op.create_index("ix_kb_chunks_partner_document", "kb_chunks", ["partner_id", "document_id", "ordinal"])
    op.create_table(
        "agent_documents",
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("linked_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_documents_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["kb_documents.id"], name=op.f("fk_agent_documents_document_id_kb_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "document_id", name=op.f("pk_agent_documents")),
    )
    op.create_index(op.f("ix_agent_documents_document_id"), "agent_documents", ["document_id"])
    op.create_table(
        "kb_folders",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("partner_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_kb_folders_partner_id_partners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_folders")),
        sa.UniqueConstraint("partner_id", "name", name=op.f("uq_kb_folders_partner_id_name")),
    )
    op.create_table(
        "kb_folder_documents",
        sa.Column("folder_id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("added_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["kb_folders.id"], name=op.f("fk_kb_folder_documents_folder_id_kb_folders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["kb_documents.id"], name=op.f("fk_kb_folder_documents_document_id_kb_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("folder_id", "document_id", name=op.f("pk_kb_folder_documents")),
    )
    op.create_index(op.f("ix_kb_folder_documents_document_id"), "kb_folder_documents", ["document_id"])
    op.create_table(
        "kb_folder_agents",
        sa.Column("folder_id", sa.String(36), nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("linked_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["kb_folders.id"], name=op.f("fk_kb_folder_agents_folder_id_kb_folders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_kb_folder_agents_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("folder_id", "agent_id", name=op.f("pk_kb_folder_agents")),
    )
    op.create_index(op.f("ix_kb_folder_agents_agent_id"), "kb_folder_agents", ["agent_id"])


def downgrade() -> None:
    op.drop_table("kb_folder_agents")
    op.drop_table("kb_folder_documents")
    op.drop_table("kb_folders")
    op.drop_table("agent_documents")
    op.drop_table("kb_chunks")
    op.drop_table("kb_documents")
