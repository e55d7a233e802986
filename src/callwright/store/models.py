"""Tables. Every partner-scoped row carries ``partner_id``; services always filter on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Partner(Timestamped, Base):
    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    allowed_providers: Mapped[list[Any]] = mapped_column(default=list)
    concurrency_limit: Mapped[int] = mapped_column(Integer)
    agent_limit: Mapped[int] = mapped_column(Integer)
    # Per API key, per minute (0 = no limit): call endpoints (/calls/*) and all the others.
    requests_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    calls_per_minute: Mapped[int] = mapped_column(Integer, default=10)
    # The partner's own call rate (paise per minute; None: the operator's default), and its
    # balance in paise: the sum of its credit_ledger rows, moved in the transaction adding each.
    rate_paise_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    credit_balance_paise: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class TelephonyConnection(Timestamped, Base):
    """A partner's carrier account. ``identifiers`` are shown masked; ``secrets`` are sealed."""

    __tablename__ = "telephony_connections"
    __table_args__ = (UniqueConstraint("partner_id", "provider", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    # One default per (partner, provider): what the legacy PUT /config/telephony updates and what
    # a call without connection_id uses when the carrier has one connection.
    is_default: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE", server_default="ACTIVE")
    identifiers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sealed_secrets: Mapped[str] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    # Operator-only switches.
    carrier_voicemail_detection: Mapped[bool] = mapped_column(Boolean, default=False)
    cps: Mapped[float | None] = mapped_column(default=None)


class PhoneNumber(Timestamped, Base):
    """A DID of a connection: synced from the carrier's number API or added by the operator.

    ``carrier_ref`` is the carrier's handle for the number (Twilio's PN sid, Exotel's ExoPhone
    sid, Vobiz's number id); ``carrier_route`` what the number pointed at before we bound an agent
    (Twilio VoiceUrl, Plivo/Vobiz application id), restored on unbinding; ``bound_route`` what we
    pointed it at (our VoiceUrl, our application's id), None while the carrier is not pointed at us.
    """

    __tablename__ = "phone_numbers"
    __table_args__ = (UniqueConstraint("connection_id", "phone_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("telephony_connections.id", ondelete="CASCADE"), index=True
    )
    phone_number: Mapped[str] = mapped_column(String(32))
    friendly_name: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), default=None, index=True
    )
    source: Mapped[str] = mapped_column(String(16), default="carrier")  # carrier | operator
    carrier_ref: Mapped[str | None] = mapped_column(String(128), default=None)
    carrier_route: Mapped[str | None] = mapped_column(Text, default=None)
    bound_route: Mapped[str | None] = mapped_column(Text, default=None)
    # The live MCube call this number is the executive number of (services.mcube_bridge); free
    # when None or when that call is over.
    reserved_call_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)


class Project(Timestamped, Base):
    """A group of a partner's agents. Each partner has exactly one ``is_default`` project."""

    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_partner_created", "partner_id", "created_at"),
        Index(
            "uq_projects_one_default",
            "partner_id",
            unique=True,
            postgresql_where=text("is_default"),
            sqlite_where=text("is_default"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # Operator-set call rate for the project's agents (paise per minute); None: the partner's.
    rate_paise_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)


class Agent(Timestamped, Base):
    __tablename__ = "agents"
    __table_args__ = (
        UniqueConstraint("partner_id", "agent_name"),
        Index("ix_agents_partner_created", "partner_id", "created_at"),
        Index("ix_agents_partner_project", "partner_id", "project_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    agent_name: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # The partner-facing agent settings (prompt, voice, messages, limits…) as validated JSON.
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Operator-set call rate for this agent (paise per minute); None: the project's or partner's.
    rate_paise_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)


class Call(Timestamped, Base):
    """One outbound call and its session. Also the dialer's durable queue row (``dial_state``)."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("partner_id", "idempotency_key"),
        Index("ix_calls_partner_created", "partner_id", "created_at"),
        Index("ix_calls_partner_status", "partner_id", "status"),
        Index("ix_calls_dial_queue", "dial_state", "dial_not_before"),
        Index("ix_calls_provider_call_id", "provider", "provider_call_id"),
        Index("ix_calls_campaign_status", "campaign_id", "status"),
        Index("ix_calls_partner_project", "partner_id", "project_id", "created_at"),
        Index("ix_calls_extraction_due", "extraction_due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(String(36), default=new_id, unique=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    # No foreign key: a call's record outlives its agent; ``agent`` keeps what the call used.
    agent_id: Mapped[str] = mapped_column(String(36))
    agent: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The agent's project when the call started (kept if the agent moves or goes).
    project_id: Mapped[str | None] = mapped_column(String(36), default=None)
    provider: Mapped[str] = mapped_column(String(16))
    connection_id: Mapped[str | None] = mapped_column(
        ForeignKey("telephony_connections.id", ondelete="SET NULL"), default=None
    )
    direction: Mapped[str] = mapped_column(String(16), default="outbound")
    from_number: Mapped[str] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(32))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)

    status: Mapped[str] = mapped_column(String(16), default="pending")
    disposition: Mapped[str | None] = mapped_column(String(32), default=None)
    answered_by: Mapped[str | None] = mapped_column(String(16), default=None)
    # The voicemail second opinion's confidence and reason, when it decided answered_by.
    answered_by_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    answered_by_reason: Mapped[str | None] = mapped_column(Text, default=None)
    provider_call_id: Mapped[str | None] = mapped_column(String(128), default=None)
    # True once provider_call_id is the carrier's id for the call itself (not a dial request's
    # provisional id such as Plivo's request_uuid): from then on no callback may change it.
    provider_call_id_final: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # True when answered_by is the carrier's own verdict (AMD): a later carrier verdict is ignored.
    answered_by_carrier: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    end_reason: Mapped[str | None] = mapped_column(Text, default=None)
    hangup_cause: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    machine_detection_requested: Mapped[bool] = mapped_column(Boolean, default=False)

    # The dialer's queue (domain.dialing.DialState): queued → claimed → dialing → dialed …
    dial_state: Mapped[str] = mapped_column(String(16), default="queued")
    dial_attempts: Mapped[int] = mapped_column(Integer, default=0)
    dial_not_before: Mapped[datetime] = mapped_column(default=utcnow)
    dial_lease_until: Mapped[datetime | None] = mapped_column(default=None)

    # The one media socket carrying the call's stream now (services.media_sockets), if any.
    media_socket_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # When the answer document (which carries the media token) was first served.
    answer_served_at: Mapped[datetime | None] = mapped_column(default=None)
    media_started_at: Mapped[datetime | None] = mapped_column(default=None)
    media_ended_at: Mapped[datetime | None] = mapped_column(default=None)
    first_agent_audio_at: Mapped[datetime | None] = mapped_column(default=None)
    transcript: Mapped[list[Any]] = mapped_column(default=list)
    latency: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    recording_url: Mapped[str | None] = mapped_column(Text, default=None)
    # The call's hand-off to a human (``domain.transfers.TransferRecord.wire``), if one was asked.
    transfer: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # An MCube call's media leg (services.mcube_bridge): the call MCube bridged to our executive
    # number arrives as an inbound call on another carrier; its carrier, connection and call id.
    bridge_provider: Mapped[str | None] = mapped_column(String(16), default=None)
    bridge_connection_id: Mapped[str | None] = mapped_column(String(36), default=None)
    bridge_call_id: Mapped[str | None] = mapped_column(String(255), default=None)
    # When the call's ``session.completed`` webhook event was written (once per call).
    session_completed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Post-call extraction (services.extraction): the ``extraction`` block as GET /calls/{id} and
    # session.completed show it (None when the agent had no extraction_config), and the durable
    # job: set while extraction is still to run, the time it may next be claimed (a lease).
    extraction: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    extraction_due_at: Mapped[datetime | None] = mapped_column(default=None)
    # The rate in force when the call started (paise per minute), and what the call cost once it
    # ended (None until then); the charge itself is the call's credit_ledger row.
    rate_paise_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    credits_used_paise: Mapped[int | None] = mapped_column(BigInteger, default=None)

    # Set on a campaign's calls: the campaign and the campaign contact the call is an attempt for.
    campaign_id: Mapped[str | None] = mapped_column(String(36), default=None)
    campaign_contact_id: Mapped[str | None] = mapped_column(String(36), default=None)


class CreditEntry(Base):
    """One change of a partner's balance, never updated or deleted: a top-up, an adjustment, or
    the charge for one call (``call_id`` unique, so no call is ever charged twice)."""

    __tablename__ = "credit_ledger"
    __table_args__ = (Index("ix_credit_ledger_partner_created", "partner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # top_up | call_charge | adjustment
    amount_paise: Mapped[int] = mapped_column(BigInteger)  # signed: a charge is negative
    call_id: Mapped[str | None] = mapped_column(String(36), default=None, unique=True)
    agent_id: Mapped[str | None] = mapped_column(String(36), default=None)
    billed_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    rate_paise_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallbackNonce(Base):
    """A carrier signature nonce already spent (Plivo, Vobiz), kept until it expires so a captured
    callback cannot be sent again. Used when no Redis is configured (services.callback_nonces)."""

    __tablename__ = "callback_nonces"
    __table_args__ = (Index("ix_callback_nonces_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column()


class CallEventRow(Base):
    """Every state change of a call, with what caused it (the carrier's payload, secrets removed)."""

    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_call_created", "call_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    partner_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # api | dialer | carrier | media
    status_before: Mapped[str | None] = mapped_column(String(16), default=None)
    status_after: Mapped[str | None] = mapped_column(String(16), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# What a new endpoint receives, as stored JSON: Vocobase's one documented event.
WEBHOOK_DEFAULT_EVENTS = '["session.completed"]'


class WebhookEndpoint(Timestamped, Base):
    """A partner's webhook receiver. The signing secret is sealed; it is shown once, at creation."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("partner_id", "label"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(31))
    url: Mapped[str] = mapped_column(Text)
    sealed_secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The event types it receives (``domain.webhooks.EventType`` values).
    events: Mapped[list[Any]] = mapped_column(
        default=lambda: ["session.completed"], server_default=WEBHOOK_DEFAULT_EVENTS
    )
    last_delivery_at: Mapped[datetime | None] = mapped_column(default=None)
    last_delivery_status: Mapped[str | None] = mapped_column(String(16), default=None)


class WebhookEvent(Base):
    """One event for a partner, written in the transaction of the change that caused it; ``id`` is
    the stable event id receivers dedupe on (``X-Webhook-Id``)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_partner_created", "partner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Timestamped, Base):
    """One event to one endpoint: the outbox row the sender claims with a lease and retries."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | dead
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Held by the sender while a request is in flight; a crash leaves it to expire, then it is retried.
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    lease_token: Mapped[str | None] = mapped_column(String(36), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when this delivery was queued by a partner's redeliver request: the delivery it repeats.
    redelivery_of: Mapped[str | None] = mapped_column(String(36), default=None)
    # Never loaded through; it makes a flush insert the event before its deliveries.
    event: Mapped[WebhookEvent] = relationship(lazy="raise", passive_deletes=True)


class WebhookAttempt(Base):
    """One HTTP request of a delivery, written when it is claimed and completed with its outcome."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class Contact(Timestamped, Base):
    """A partner's contact book: one row per number, shared by the partner's campaigns."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("partner_id", "phone"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    # ``metadata`` is SQLAlchemy's own attribute on a model; the column keeps the API's name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class Campaign(Timestamped, Base):
    """Bulk outbound calling: one agent, one carrier, a contact list, a schedule and retry rules."""

    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_partner_created", "partner_id", "created_at"),
        Index("ix_campaigns_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    # No foreign key, like calls: a campaign's record outlives its agent.
    agent_id: Mapped[str] = mapped_column(String(36))
    provider: Mapped[str] = mapped_column(String(16))
    concurrency_limit: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Validated at the API: {start_at, end_at, timezone, calling_windows, blackout_dates}.
    schedule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Validated at the API: {max_attempts, busy: {redial, spacing_secs}, no_answer: …}.
    retry: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    paused_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    canceled_at: Mapped[datetime | None] = mapped_column(default=None)
    # Why the platform (not the partner) paused it, e.g. its agent was deleted.
    pause_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # {failure_rate, window} (``domain.campaign_guards``); None: no circuit breaker.
    circuit_breaker: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # E.164 numbers the calls' caller ID rotates over; empty: the connection's own number.
    caller_ids: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))


class CampaignContact(Timestamped, Base):
    """One number of one campaign and where it stands: the scheduler's durable queue row."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone"),
        Index("ix_campaign_contacts_due", "campaign_id", "state", "next_attempt_at"),
        Index("ix_campaign_contacts_position", "campaign_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(String(36), index=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), default=None)
    # Order of addition: due contacts are called in the order they were given.
    position: Mapped[int] = mapped_column(Integer)
    phone: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    # The contact's metadata (or its mapped CSV columns): with ``name``, the call's {{variables}}.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    # The partner's override of the zone derived from the number (IANA name).
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # Attempts that count against the budget, settled; and every attempt row made (its numbers).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempt_seq: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    # Why the contact is final (completed, failed or skipped), in snake_case words.
    result_reason: Mapped[str | None] = mapped_column(Text, default=None)
    current_call_id: Mapped[str | None] = mapped_column(String(36), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class CampaignAttempt(Base):
    """One call made for one campaign contact, written in the transaction that stores the call."""

    __tablename__ = "campaign_attempts"
    __table_args__ = (
        UniqueConstraint("campaign_contact_id", "number"),
        # The circuit breaker reads a campaign's latest settled attempts.
        Index("ix_campaign_attempts_campaign_ended", "campaign_id", "ended_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(String(36))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    campaign_contact_id: Mapped[str] = mapped_column(ForeignKey("campaign_contacts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    counted: Mapped[bool | None] = mapped_column(Boolean, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class Suppression(Base):
    """A number the partner must never call again: checked before every dial, campaign or single."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("partner_id", "phone"), Index("ix_suppressions_partner_created", "partner_id", "created_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Where the entry came from: api, csv, in_call (the caller asked during a call) or the
    # partner's own word (its CRM, a DNC registry scrub).
    source: Mapped[str] = mapped_column(String(64), default="api")
    # The call in which the caller opted out, for in-call entries.
    call_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Function(Timestamped, Base):
    """A partner's custom function (an HTTP tool its agents' models may call). Header values are
    sealed; only their keys are stored in the clear."""

    __tablename__ = "functions"
    __table_args__ = (UniqueConstraint("partner_id", "name"), Index("ix_functions_partner_created", "partner_id", "created_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    header_keys: Mapped[list[Any]] = mapped_column(default=list)
    sealed_headers: Mapped[str] = mapped_column(Text)
    input_schema: Mapped[list[Any]] = mapped_column(default=list)
    output_schema: Mapped[list[Any]] = mapped_column(default=list)
    timeout_secs: Mapped[int] = mapped_column(Integer, default=10)
    started_messages: Mapped[list[Any]] = mapped_column(default=list)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)


class AgentFunction(Base):
    """A function attached to an agent (the agent's ``function_ids``, kept here as rows so a
    deleted function is detached from every agent)."""

    __tablename__ = "agent_functions"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    function_id: Mapped[str] = mapped_column(
        ForeignKey("functions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
class DndCheck(Timestamped, Base):
    """A partner's do-not-disturb check: a URL asked before every dial whether a number may be
    called (a registry scrub such as India's NCPR, run by the partner). One per partner."""

    __tablename__ = "dnd_checks"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    timeout_ms: Mapped[int] = mapped_column(Integer)
    on_error: Mapped[str] = mapped_column(String(8))  # "deny" or "allow"
    sealed_secret: Mapped[str] = mapped_column(Text)


# --- knowledge base ----------------------------------------------------------------------------


class KbDocument(Timestamped, Base):
    """A partner's document (an uploaded file or a web link) and its ingestion job.

    ``ingest_due_at`` is the job: set when the document is confirmed (or its link added), moved
    ahead by the lease of the worker that claims it, cleared when it is ready or failed. A worker
    that dies mid-job leaves its lease to run out; the next pass claims the document again."""

    __tablename__ = "kb_documents"
    __table_args__ = (Index("ix_kb_documents_partner_created", "partner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    doc_type: Mapped[str] = mapped_column(String(16))  # pdf, docx, txt, md, url
    mime_type: Mapped[str | None] = mapped_column(String(120), default=None)
    file_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    source_url: Mapped[str | None] = mapped_column(Text, default=None)
    storage_key: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(16), default="uploading")
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    ingest_due_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    ingest_attempts: Mapped[int] = mapped_column(Integer, default=0)
    ready_at: Mapped[datetime | None] = mapped_column(default=None)


class KbChunk(Base):
    """One passage of a ready document and its embedding (float32, little-endian)."""

    __tablename__ = "kb_chunks"
    __table_args__ = (Index("ix_kb_chunks_partner_document", "partner_id", "document_id", "ordinal"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    document_id: Mapped[str] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)


class AgentDocument(Base):
    """A document linked to an agent directly (``POST /agent/{id}/documents``)."""

    __tablename__ = "agent_documents"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("kb_documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbFolder(Timestamped, Base):
    """A named group of documents; agents linked to it know every document in it."""

    __tablename__ = "kb_folders"
    __table_args__ = (UniqueConstraint("partner_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text, default=None)


class KbFolderDocument(Base):
    __tablename__ = "kb_folder_documents"

    folder_id: Mapped[str] = mapped_column(ForeignKey("kb_folders.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("kb_documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbFolderAgent(Base):
    __tablename__ = "kb_folder_agents"

    folder_id: Mapped[str] = mapped_column(ForeignKey("kb_folders.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True)
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class BackgroundAudio(Timestamped, Base):
    """A partner's uploaded background-audio asset (a mono WAV kept in recordings storage).
    The curated assets that ship with the install are not rows: ``voice.ambience`` makes them."""

    __tablename__ = "background_audio"
    __table_args__ = (Index("ix_background_audio_partner_created", "partner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64), unique=True)  # unique across all assets
    label: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="UPLOADING")  # UPLOADING, READY, FAILED
    size_bytes: Mapped[int] = mapped_column(Integer)  # as declared when the upload URL was minted
    duration_secs: Mapped[float | None] = mapped_column(Float, default=None)
    sample_rate: Mapped[int | None] = mapped_column(Integer, default=None)
    channels: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class Dictionary(Timestamped, Base):
    """A partner's speech-recognition dictionary: terms the STT is biased toward."""

    __tablename__ = "dictionaries"
    __table_args__ = (UniqueConstraint("partner_id", "name"), Index("ix_dictionaries_partner_created", "partner_id", "created_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    terms: Mapped[list[Any]] = mapped_column(default=list)
    char_count: Mapped[int] = mapped_column(Integer, default=0)


class AgentDictionary(Base):
    """A dictionary attached to an agent."""

    __tablename__ = "agent_dictionaries"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    dictionary_id: Mapped[str] = mapped_column(
        ForeignKey("dictionaries.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class BrowserSession(Timestamped, Base):
    """A partner talking to one of its agents from a browser (``POST /sessions/webrtc``): the
    agent as it was when the session started, the WebRTC signalling's progress, and what was said.
    Not a call: no carrier, no number, not billed, not counted in the call concurrency."""

    __tablename__ = "browser_sessions"
    __table_args__ = (Index("ix_browser_sessions_partner_created", "partner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    # No foreign key: the session's record outlives its agent; ``agent`` keeps what it used.
    agent_id: Mapped[str] = mapped_column(String(36))
    agent: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # domain.browser_sessions.SessionStatus: created → connecting → in_progress → completed | failed
    status: Mapped[str] = mapped_column(String(16), default="created")
    offer_received_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)  # the peer connected
    first_agent_audio_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    end_reason: Mapped[str | None] = mapped_column(Text, default=None)
    transcript: Mapped[list[Any]] = mapped_column(default=list)
    latency: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # When its ``session.completed`` webhook event was written (once).
    session_completed_at: Mapped[datetime | None] = mapped_column(default=None)
