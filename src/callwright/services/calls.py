"""Call use cases for a partner: start (queue for the dialer), list, get, end, concurrency."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVarTuple, Unpack

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.carriers import get_carrier
from callwright.carriers.base import Carrier
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.calls import ACTIVE_STATUSES, CallStatus, cancel
from callwright.domain.credits import Rate, check_can_start
from callwright.domain.dialing import DialState, dial_move
from callwright.domain.dnd import denied_message
from callwright.domain.end_reasons import EndReason
from callwright.domain.errors import (
    CallwrightError,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from callwright.domain.inbound import outbound_call_limit
from callwright.domain.phone import e164_error, is_e164
from callwright.domain.providers import Provider, parse_provider
from callwright.domain.suppression import suppressed_message
from callwright.services import agents as agent_service
from callwright.services import (
    connections,
    credits,
    dnd_checks,
    mcube_bridge,
    phone_numbers,
    projects,
    suppression,
    telephony,
)
from callwright.services.call_admission import (
    AdmissionConflict,
    CallAdmission,
    Start,
    active_count,
)
from callwright.services.call_state import lock_call, record_event, set_state, state_of
from callwright.store.db import SqliteFile
from callwright.store.models import Agent, Call, DndCheck, Partner, TelephonyConnection, new_id, utcnow
from callwright.store.secretbox import SecretBox

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# The provider Vocobase assumes when a start request names none.
VOCOBASE_DEFAULT_PROVIDER = Provider.MCUBE


class ProviderNotConfigured(CallwrightError):
    status_code = 400
    code = "provider_not_configured"


@dataclass(frozen=True, slots=True)
class StartCall:
    agent_id: str
    to_number: str
    provider: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    connection_id: str | None = None


async def start_call(
    *,
    session: AsyncSession,
    partner: Partner,
    request: StartCall,
    admission: CallAdmission,
    idempotency_key: str | None = None,
    sqlite: SqliteFile | None = None,
    default_rate_paise: int = 0,
    dnd: tuple[dnd_checks.DndGate, SecretBox] | None = None,
    inbound_reserved_share: float = 0.0,
) -> tuple[Call, bool]:
    """Create the call (pending) as the dialer's queue row. Returns (call, created).

    Checks run in the contract's order: agent, provider allowed, provider configured, to_number,
    the number not on the partner's suppression list (403 ``number_suppressed``), a balance
    covering one billing bucket at the call's rate (403 ``insufficient_credits``), free
    concurrency slot (``admission``, which stores the call). Last, when the partner has set a DND
    check URL, that URL (``dnd``: the gate asking it and the secret box opening its secret; 403
    ``number_dnd_denied``): after every check made here, so no request is spent on a call refused
    anyway, and with the database connection given back. A repeated Idempotency-Key within 24 h
    returns the first call. ``sqlite``: the store's SQLite file, when it is one;
    ``default_rate_paise``: the operator's default rate (paise per minute);
    ``inbound_reserved_share``: the share of the partner's limit left free for inbound calls.
    """
    partner_id = partner.id
    if not session.in_transaction() and session.get_bind().dialect.name != "sqlite":
        # Only reads happen in this session (the call is stored by ``admission``): without a
        # transaction they need no BEGIN and no ROLLBACK, two round trips of six.
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    if idempotency_key:
        existing = await _idempotent_match(session, partner_id, request, idempotency_key)
        if existing is not None:
            return existing, False

    # The reads run in one go: on a SQLite file on a thread of their own (see SqliteFile).
    if sqlite is not None:
        parts = await sqlite.read(_checked_parts, partner, request, default_rate_paise)
    else:
        parts = await session.run_sync(_checked_parts, partner, request, default_rate_paise)
    agent, provider, connection, from_number, rate, balance, suppressed, dnd_check = parts
    if not is_e164(request.to_number):
        raise ValidationFailed("to_number", e164_error("to_number"))
    if suppressed:
        raise Forbidden(suppressed_message(request.to_number), code="number_suppressed")
    check_can_start(balance_paise=balance, rate=rate)

    limit = outbound_call_limit(partner.concurrency_limit, inbound_reserved_share)
    call = new_call(
        partner_id=partner_id,
        agent=agent,
        provider=provider,
        connection=connection,
        to_number=request.to_number,
        variables=request.variables,
        rate=rate,
        idempotency_key=idempotency_key,
        from_number=from_number,
    )
    # Give the connection back while the call waits for its batch: the batch needs one too, and
    # requests holding the pool's connections while they wait would leave it none.
    await session.close()
    if dnd is not None and (config := dnd_checks.config_of(dnd_check, dnd[1])) is not None:
        verdict = await dnd[0].verdict(config, request.to_number)
        if not verdict.allow:
            raise Forbidden(denied_message(request.to_number, verdict), code="number_dnd_denied")
    try:
        return await admission.admit(partner_id, Start(call, limit=limit)), True
    except AdmissionConflict:
        # A concurrent request with the same Idempotency-Key stored its call first.
        existing = await _idempotent_match(session, partner_id, request, idempotency_key) if idempotency_key else None
        if existing is None:
            raise Conflict("the call could not be stored; retry", code="conflict") from None
        return existing, False


def new_call(
    *,
    partner_id: str,
    agent: Agent,
    provider: Provider,
    connection: TelephonyConnection,
    to_number: str,
    variables: dict[str, Any],
    rate: Rate,
    idempotency_key: str | None = None,
    from_number: str | None = None,
    direction: str = "outbound",
) -> Call:
    """A pending call, checked and ready for the admission (which stores it): the agent's settings
    as the call will use them, the caller id (``from_number`` as resolved, else the connection's
    default), the rate in force."""
    carrier = get_carrier(provider)
    spec = agent_service.agent_spec(agent)
    return Call(
        id=new_id(),  # set here, not at the flush: the created event refers to it
        status=CallStatus.PENDING.value,
        partner_id=partner_id,
        agent_id=agent.id,
        project_id=agent.project_id,
        agent=spec.snapshot(),
        provider=provider.value,
        connection_id=connection.id,
        from_number=from_number or str(connection.identifiers.get(carrier.caller_id_field, "")),
        to_number=to_number,
        direction=direction,
        variables=variables,
        idempotency_key=idempotency_key,
        # Carrier AMD is a dial option: an inbound caller is a person who rang us.
        machine_detection_requested=direction == "outbound" and _wants_machine_detection(spec, connection, carrier),
        rate_paise_per_minute=rate.paise_per_minute,
    )


def call_rate_and_balance(session: Session, partner: Partner, agent: Agent, default_rate: int) -> tuple[Rate, int]:
    """The rate a call on ``agent`` is billed at and, when it is not free, the partner's balance
    (0 otherwise: not read)."""
    project_rate = None if agent.rate_paise_per_minute is not None else projects.project_rate(session, agent.project_id)
    rate = credits.call_rate(agent=agent, project_rate=project_rate, partner=partner, default=default_rate)
    return rate, 0 if rate.billing_off else credits.balance_of(session, partner.id)


def _wants_machine_detection(spec: AgentSpec, connection: TelephonyConnection, carrier: Carrier) -> bool:
    return (
        spec.voicemail_detection_enabled
        and connection.carrier_voicemail_detection
        and carrier.supports_machine_detection
    )


def _checked_parts(
    session: Session, partner: Partner, request: StartCall, default_rate: int
) -> tuple[Agent, Provider, TelephonyConnection, str, Rate, int, bool, DndCheck | None]:
    """The agent, the provider and its connection, checked in the contract's order (all but
    ``to_number``, which needs no store, and the balance); the call's rate and, when it is not
    free, the partner's balance (0 otherwise: not read); whether ``to_number`` is suppressed;
    the partner's DND check, if any."""
    agent = agent_service.partner_agent(session, partner.id, request.agent_id)
    provider = _parse_provider(request.provider)
    if request.provider is None and request.connection_id is not None:
        # A named connection says its carrier; the Vocobase default (MCube) applies only without one.
        provider = connections.provider_of_connection(session, partner.id, request.connection_id) or provider
    if provider.value not in partner.allowed_providers:
        if request.provider is None:
            raise Forbidden(
                f"{_OMITTED} is not enabled for this account; send provider "
                f"({_others(partner.allowed_providers)}) or ask your account manager to enable MCube",
                code="provider_not_allowed",
            )
        raise Forbidden(
            f"{provider.display_name} is not enabled for this account; ask your account manager",
            code="provider_not_allowed",
        )
    connection = connections.connection_for_call(session, partner.id, provider, request.connection_id)
    if connection is None:
        if request.provider is None:
            configured = [p.value for p in telephony.configured_providers(session, partner.id)]
            raise ProviderNotConfigured(
                f"{_OMITTED} is not configured; send provider "
                f"({_others(configured or partner.allowed_providers)}) or configure MCube with "
                "PUT /api/v2/config/telephony/mcube"
            )
        raise ProviderNotConfigured(f"{provider.display_name} not configured")
    rate, balance = call_rate_and_balance(session, partner, agent, default_rate)
    suppressed = suppression.is_suppressed(session, partner.id, request.to_number)
    from_number = phone_numbers.caller_id_for(session, connection, agent.id)
    mcube_bridge.check_room(session, partner_id=partner.id, connection=connection)
    return agent, provider, connection, from_number, rate, balance, suppressed, dnd_checks.check_row(session, partner.id)


# A self-hosted partner may have no MCube account: the errors for an omitted provider say what to do.
_OMITTED = f"provider was omitted, so the Vocobase default {VOCOBASE_DEFAULT_PROVIDER.value} was used, and MCube"


def _others(providers: list[str]) -> str:
    """The providers a partner could name instead of the default, in the registry's order."""
    named = [p.value for p in Provider if p.value in providers and p is not VOCOBASE_DEFAULT_PROVIDER]
    return ", ".join(named or [p.value for p in Provider if p is not VOCOBASE_DEFAULT_PROVIDER])


def _parse_provider(name: str | None) -> Provider:
    """The provider named, or Vocobase's default (mcube) when the request names none."""
    if name is None:
        return VOCOBASE_DEFAULT_PROVIDER
    provider = parse_provider(name)
    if provider is None:
        raise ValidationFailed("provider", "provider must be one of " + ", ".join(p.value for p in Provider))
    return provider


async def _idempotent_match(
    session: AsyncSession, partner_id: str, request: StartCall, key: str
) -> Call | None:
    call = await session.scalar(
        select(Call).where(Call.partner_id == partner_id, Call.idempotency_key == key)
    )
    if call is None:
        return None
    if call.created_at < utcnow() - IDEMPOTENCY_WINDOW:
        call.idempotency_key = None  # expired: the key is free for a new call
        await session.commit()  # now: the new call is stored by another transaction
        return None
    same = call.agent_id == request.agent_id and call.to_number == request.to_number and (
        request.provider is None or call.provider == request.provider.strip().lower()
    )
    if not same:
        raise Conflict(
            "this Idempotency-Key was already used for a different call (agent, number or provider)",
            code="idempotency_key_reused",
        )
    return call


async def get_call(*, session: AsyncSession, partner: Partner, call_id: str) -> Call:
    call = await session.scalar(select(Call).where(Call.id == call_id, Call.partner_id == partner.id))
    if call is None:
        raise NotFound(f"no call with id {call_id!r}", code="call_not_found")
    return call


def parse_status_filter(value: str | None) -> CallStatus | None:
    """``GET /calls?status=``: any case; an unknown status is refused, naming the allowed ones."""
    if value is None:
        return None
    try:
        return CallStatus(value.strip().lower())
    except ValueError:
        raise ValidationFailed(
            "status", "status must be one of " + ", ".join(s.value for s in CallStatus)
        ) from None


Row = TypeVarTuple("Row")


@dataclass(frozen=True)
class CallFilter:
    """What ``GET /calls`` narrows the list by; every field None keeps every call."""

    status: str | None = None
    project_id: str | None = None
    agent_id: str | None = None
    provider: str | None = None
    direction: str | None = None
    number: str | None = None  # matches the caller's or the called number, anywhere in it
    created_from: datetime | None = None
    created_to: datetime | None = None


async def list_calls(
    *,
    session: AsyncSession,
    partner: Partner,
    limit: int,
    offset: int,
    status: str | None,
    project_id: str | None = None,
    narrow: CallFilter | None = None,
) -> tuple[list[Call], int]:
    """One page of the partner's calls, newest first; ``status`` filters (case-insensitive);
    ``project_id`` keeps those of one of its projects (the agent's project when each call started;
    404 if it names none); ``narrow`` adds the console's filters."""
    wanted = parse_status_filter(status)
    query = select(Call).where(Call.partner_id == partner.id)
    if project_id is not None:
        project = await projects.get_project(session=session, partner=partner, project_id=project_id)
        query = query.where(Call.project_id == project.id)
    if wanted is not None:
        query = query.where(Call.status == wanted.value)
    if narrow is not None:
        query = narrowed(query, narrow)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(Call.created_at.desc(), Call.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def narrowed(query: Select[Unpack[Row]], narrow: CallFilter) -> Select[Unpack[Row]]:
    """``query`` (over calls, maybe joined) keeping only the calls ``narrow`` matches."""
    if narrow.agent_id is not None:
        query = query.where(Call.agent_id == narrow.agent_id)
    if narrow.provider is not None:
        query = query.where(Call.provider == narrow.provider.lower())
    if narrow.direction is not None:
        query = query.where(Call.direction == narrow.direction.lower())
    if narrow.number is not None:
        digits = "%" + narrow.number.replace("%", "").replace("_", "") + "%"
        query = query.where(or_(Call.from_number.like(digits), Call.to_number.like(digits)))
    if narrow.created_from is not None:
        query = query.where(Call.created_at >= _as_utc(narrow.created_from))
    if narrow.created_to is not None:
        query = query.where(Call.created_at < _as_utc(narrow.created_to))
    return query


def _as_utc(moment: datetime) -> datetime:
    """A filter bound in UTC; one without a zone is taken as UTC, as the store keeps times."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


async def get_call_by_session(*, session: AsyncSession, partner: Partner, session_id: str) -> Call:
    """The call whose voice session this is (every call has one)."""
    call = await session.scalar(select(Call).where(Call.session_id == session_id, Call.partner_id == partner.id))
    if call is None:
        raise NotFound(f"no session with id {session_id!r}", code="session_not_found")
    return call


async def concurrency(*, session: AsyncSession, partner: Partner) -> dict[str, Any]:
    """``GET /calls/concurrency``: the active calls counted as admission counts them."""
    active = await active_count(session, partner.id)
    return {
        "limit": partner.concurrency_limit,
        "limit_source": "partner",
        "active": active,
        "remaining": max(0, partner.concurrency_limit - active),
        "statuses_counted": [s.value.upper() for s in CallStatus if s in ACTIVE_STATUSES],
    }


async def request_end(*, session: AsyncSession, partner: Partner, call_id: str) -> tuple[Call, bool]:
    """The partner asks to end a call. A call not yet handed to the carrier is canceled here.

    Returns (call, needs_carrier_hangup): True when the carrier must be told to hang up; the
    carrier's own hang-up callback then closes the call with its duration and cause.
    """
    await get_call(session=session, partner=partner, call_id=call_id)  # tenancy check
    call = await lock_call(session, call_id)
    assert call is not None
    if CallStatus(call.status).is_terminal:
        await session.commit()
        return call, False
    reason = EndReason.ENDED_BY_PARTNER_REQUEST.words
    if call.dial_state in (DialState.QUEUED, DialState.DIALING) or not call.provider_call_id:
        # Not dialed yet (or the dial is in flight: the dialer hangs up once it returns).
        new = cancel(state_of(call), at=utcnow(), reason=reason)
        if call.dial_state == DialState.QUEUED:
            call.dial_state = dial_move(call.dial_state, DialState.CANCELED)
        if new is not None:
            set_state(session, call, new, kind="canceled", source="api")
        await session.commit()
        return call, False
    call.end_reason = call.end_reason or reason
    record_event(session, call, kind="end_requested", source="api", before=call.status)
    await session.commit()
    return call, True
