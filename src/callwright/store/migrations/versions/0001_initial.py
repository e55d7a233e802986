"""partners, api keys, telephony connections, agents

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 06:10:00.600346
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partners',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('allowed_providers', sa.JSON(), nullable=False),
    sa.Column('concurrency_limit', sa.Integer(), nullable=False),
    sa.Column('agent_limit', sa.Integer(), nullable=False),
    sa.Column('created_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners')),
    sa.UniqueConstraint('name', name=op.f('uq_partners_name'))
    )
    op.create_table('agents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('partner_id', sa.String(length=36), nullable=False),
    sa.Column('agent_name', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_agents_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('partner_id', 'agent_name', name=op.f('uq_agents_partner_id_agent_name'))
    )
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.create_index('ix_agents_partner_created', ['partner_id', 'created_at'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('partner_id', sa.String(length=36), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('display_prefix', sa.String(length=16), nullable=False),
    sa.Column('test_mode', sa.Boolean(), nullable=False),
    sa.Column('created_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', callwright.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_api_keys_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_partner_id'), ['partner_id'], unique=False)

    op.create_table('telephony_connections',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('partner_id', sa.String(length=36), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('identifiers', sa.JSON(), nullable=False),
    sa.Column('sealed_secrets', sa.Text(), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('verified_at', callwright.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('carrier_voicemail_detection', sa.Boolean(), nullable=False),
    sa.Column('cps', sa.Double(), nullable=True),
    sa.Column('created_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_telephony_connections_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_telephony_connections')),
    sa.UniqueConstraint('partner_id', 'provider', 'name', name=op.f('uq_telephony_connections_partner_id_provider_name'))
    )
    with op.batch_alter_table('telephony_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telephony_connections_partner_id'), ['partner_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('telephony_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telephony_connections_partner_id'))

    op.drop_table('telephony_connections')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_partner_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_index('ix_agents_partner_created')

    op.drop_table('agents')
    op.drop_table('partners')
