"""calls and call events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 06:32:23.760099
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import callwright.store.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calls',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('partner_id', sa.String(length=36), nullable=False),
    sa.Column('agent_id', sa.String(length=36), nullable=False),
    sa.Column('agent', sa.JSON(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('connection_id', sa.String(length=36), nullable=True),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('from_number', sa.String(length=32), nullable=False),
    sa.Column('to_number', sa.String(length=32), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('disposition', sa.String(length=32), nullable=True),
    sa.Column('answered_by', sa.String(length=16), nullable=True),
    sa.Column('provider_call_id', sa.String(length=128), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.Column('hangup_cause', sa.Text(), nullable=True),
    sa.Column('started_at', callwright.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', callwright.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', callwright.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('machine_detection_requested', sa.Boolean(), nullable=False),
    sa.Column('dial_state', sa.String(length=16), nullable=False),
    sa.Column('dial_attempts', sa.Integer(), nullable=False),
    sa.Column('dial_not_before', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dial_lease_until', callwright.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('media_started_at', callwright.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('media_ended_at', callwright.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_agent_audio_at', callwright.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('transcript', sa.JSON(), nullable=False),
    sa.Column('latency', sa.JSON(), nullable=True),
    sa.Column('recording_url', sa.Text(), nullable=True),
    sa.Column('created_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['telephony_connections.id'], name=op.f('fk_calls_connection_id_telephony_connections'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_calls_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls')),
    sa.UniqueConstraint('partner_id', 'idempotency_key', name=op.f('uq_calls_partner_id_idempotency_key')),
    sa.UniqueConstraint('session_id', name=op.f('uq_calls_session_id'))
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_dial_queue', ['dial_state', 'dial_not_before'], unique=False)
        batch_op.create_index('ix_calls_partner_created', ['partner_id', 'created_at'], unique=False)
        batch_op.create_index('ix_calls_partner_status', ['partner_id', 'status'], unique=False)
        batch_op.create_index('ix_calls_provider_call_id', ['provider', 'provider_call_id'], unique=False)

    op.create_table('call_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('call_id', sa.String(length=36), nullable=False),
    sa.Column('partner_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status_before', sa.String(length=16), nullable=True),
    sa.Column('status_after', sa.String(length=16), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', callwright.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_events_call_id_calls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_events'))
    )
    with op.batch_alter_table('call_events', schema=None) as batch_op:
        batch_op.create_index('ix_call_events_call_created', ['call_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_events_partner_id'), ['partner_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('call_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_events_partner_id'))
        batch_op.drop_index('ix_call_events_call_created')

    op.drop_table('call_events')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_provider_call_id')
        batch_op.drop_index('ix_calls_partner_status')
        batch_op.drop_index('ix_calls_partner_created')
        batch_op.drop_index('ix_calls_dial_queue')

    op.drop_table('calls')
