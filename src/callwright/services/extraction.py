"""Post-call extraction: queued when the call's session completes, run after it with the
operator's LLM, its block written on the call and into the held ``session.completed``.

The job is durable, on the call row: ``calls.extraction_due_at`` is set in the transaction that
writes ``session.completed`` (``queue_on_completion``, called by ``webhook_outbox.call_changed``),
and that event's deliveries are held until ``extraction_hold_secs`` later. The worker
(``ExtractionWorker``, started by ``callwright.workers``) claims a due job with a lease (the due
time moved past the longest the run can take), asks the model, then in one transaction writes
the block on the call, puts it into the event's data (unless a delivery of it was already
attempted: every attempt of an event sends the same body) and releases the held deliveries at
once. A crash loses nothing: the lease runs out and another pass runs it again; past the hold the
sender sends the event as it is, ``extraction.status`` ``pending``, and ``GET /calls/{id}`` shows
the result when it comes. A job still unfinished ``GIVE_UP_AFTER`` after the call is marked failed.

Agents without ``extraction_config`` cost nothing here: their calls get no block, no job, no hold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain import extraction as rules
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.errors import BadRequest
from callwright.domain.extraction import ExtractionSpec, ExtractionStatus
from callwright.domain.webhooks import DeliveryStatus, EventType
from callwright.services.leased_jobs import JobLoop, claim_due
from callwright.settings import Settings
from callwright.store.models import Agent, Call, CallEventRow, Partner, WebhookDelivery, WebhookEvent, utcnow

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.extraction")

# session.info keys (set by Platform for every session): the worker's wake-up and the hold.
WAKEUP = "extraction_wakeup"
HOLD_SECS = "extraction_hold_secs"
_QUEUED = "extraction_queued"  # session.info flag: wake the worker after this commit
DEFAULT_HOLD_SECS = 60.0
GIVE_UP_AFTER = timedelta(hours=1)
NO_LLM = (
    "no LLM is configured on this server: the operator sets CALLWRIGHT_LLM_MODEL and "
    "CALLWRIGHT_LLM_BASE_URL (or a known CALLWRIGHT_LLM_PROVIDER with its key)"
)


def spec_of(call: Call) -> ExtractionSpec | None:
    """The extraction schema the call's agent had when the call started."""
    return AgentSpec.parse(call.agent or {}).extraction_config


def queue_on_completion(session: AsyncSession, call: Call, spec: ExtractionSpec | None) -> datetime | None:
    """At session completion (in its transaction): with a schema, the call's block and job; the
    time until which ``session.completed`` is held, or None to send it at once."""
    if spec is None:
        return None
    if not call.transcript:
        call.extraction = rules.block(
            ExtractionStatus.SKIPPED, values=rules.empty_values(spec), error=rules.NO_TRANSCRIPT
        )
        return None
    now = utcnow()
    call.extraction = rules.block(ExtractionStatus.PENDING, values=rules.empty_values(spec))
    call.extraction_due_at = now
    session.info[_QUEUED] = True
    hold = float(session.info.get(HOLD_SECS, DEFAULT_HOLD_SECS))
    return now + timedelta(seconds=hold) if hold > 0 else None


def wake_worker_after_commit(session_info: dict[str, Any]) -> None:
    """Called by the outbox's after-commit hook."""
    if session_info.pop(_QUEUED, False) and (wakeup := session_info.get(WAKEUP)) is not None:
        wakeup.set()


def forget(session_info: dict[str, Any]) -> None:
    session_info.pop(_QUEUED, None)


# --- asking the model -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    api_key: str | None
    model: str
    temperature: float | None


def endpoint_of(settings: Settings) -> Endpoint | None:
    """The operator's LLM as the voice runtime uses it, or None when none is configured."""
    from callwright.voice.engines.llm_openai import KEYLESS_PROVIDERS, KNOWN_BASE_URLS

    provider = settings.llm_provider.strip().lower()
    base_url = settings.llm_base_url or KNOWN_BASE_URLS.get(provider)
    if not settings.llm_model or not base_url:
        return None
    # A named cloud provider without a key cannot answer; a base URL of the operator's own (a
    # local server) may take none.
    if not settings.llm_api_key and not settings.llm_base_url and provider not in KEYLESS_PROVIDERS:
        return None
    return Endpoint(
        base_url.rstrip("/") + "/chat/completions", settings.llm_api_key, settings.llm_model, settings.llm_temperature
    )


async def extract(
    *,
    settings: Settings,
    http: httpx.AsyncClient,
    spec: ExtractionSpec,
    transcript: Sequence[Mapping[str, Any]],
    function_calls: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """One extraction, retried: the block. A reply that is not a JSON object, an HTTP failure or
    a value not of its key's type is asked again, up to ``extraction_max_attempts`` requests;
    values still of the wrong type after the last one are null and named in ``error``."""
    endpoint = endpoint_of(settings)
    empty = rules.empty_values(spec)
    if endpoint is None:
        return rules.block(ExtractionStatus.SKIPPED, values=empty, error=NO_LLM)
    if not transcript:
        return rules.block(ExtractionStatus.SKIPPED, values=empty, error=rules.NO_TRANSCRIPT)
    body: dict[str, Any] = {
        "model": endpoint.model,
        "messages": rules.messages(spec, transcript, function_calls),
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "call_extraction", "strict": True, "schema": rules.response_schema(spec)},
        },
        "stream": False,
    }
    if endpoint.temperature is not None:
        body["temperature"] = endpoint.temperature
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    started = time.monotonic()
    best: rules.Checked | None = None
    model = endpoint.model
    error = "no attempt was made"
    attempts = 0
    for attempts in range(1, settings.extraction_max_attempts + 1):  # noqa: B007 - read after
        try:
            content, model = await _ask(http, endpoint, body, headers, settings.extraction_timeout_secs)
            checked = rules.check_answer(spec, content)
        except (_AskFailed, rules.NotAnObject) as exc:
            error = str(exc)
            continue
        best = checked
        if not checked.problems:
            break
        error = "; ".join(checked.problems)
    latency = round((time.monotonic() - started) * 1000)
    stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    if best is None:
        return rules.block(
            ExtractionStatus.FAILED, values=empty, model=model, extracted_at=stamp, latency_ms=latency,
            attempts=attempts, error=error,
        )
    return rules.block(
        ExtractionStatus.SUCCESS, values=best.values, model=model, extracted_at=stamp, latency_ms=latency,
        attempts=attempts, error="; ".join(best.problems) or None,
    )


class _AskFailed(Exception):
    pass


async def _ask(
    http: httpx.AsyncClient, endpoint: Endpoint, body: dict[str, Any], headers: dict[str, str], timeout: float
) -> tuple[str | None, str]:
    try:
        async with asyncio.timeout(timeout):
            answer = await http.post(endpoint.url, json=body, headers=headers, timeout=timeout)
    except (TimeoutError, httpx.TimeoutException):
        raise _AskFailed(f"the LLM gave no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise _AskFailed(f"the LLM could not be reached ({exc.__class__.__name__})") from None
    if not answer.is_success:
        raise _AskFailed(f"the LLM answered HTTP {answer.status_code}")
    try:
        reply = answer.json()
        content = reply["choices"][0]["message"].get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise _AskFailed("the LLM's answer is not a chat completion") from None
    model = reply.get("model") if isinstance(reply.get("model"), str) else None
    return content, model or endpoint.model


async def function_calls_of(session: AsyncSession, call_id: str) -> list[dict[str, Any]]:
    """The call's ``function_called`` events, in order (what ``includeToolLogs`` feeds in)."""
    rows = await session.scalars(
        select(CallEventRow.payload)
        .where(CallEventRow.call_id == call_id, CallEventRow.kind == "function_called")
        .order_by(CallEventRow.created_at)
    )
    return [dict(row or {}) for row in rows]


# --- the worker ------------------------------------------------------------------------------------


class ExtractionWorker(JobLoop):
    """Runs the due extraction jobs of the store (any process; a job is leased, so run once)."""

    def __init__(self, platform: Platform, *, poll_interval_secs: float = 2.0, concurrency: int = 4) -> None:
        super().__init__(
            name="callwright-extraction", what="extraction", wakeup=platform.extraction_wakeup,
            poll_interval_secs=poll_interval_secs, log=log,
        )
        self.platform = platform
        self.settings = platform.settings
        self.concurrency = concurrency
        # Longest one job can take: every request at its timeout, plus a margin.
        settings = platform.settings
        self.lease = timedelta(seconds=settings.extraction_timeout_secs * settings.extraction_max_attempts + 30)

    async def run_due(self) -> int:
        """Claim the due jobs (up to ``concurrency``) and run them; how many were run."""
        claimed = await self._claim()
        await asyncio.gather(*(self._run_one(call_id) for call_id in claimed))
        return len(claimed)

    async def _claim(self) -> list[str]:
        return await claim_due(
            self.platform.sessions, Call.id, Call.extraction_due_at,
            now=utcnow(), lease=self.lease, limit=self.concurrency,
        )

    async def _run_one(self, call_id: str) -> None:
        try:
            async with self.platform.sessions() as session:
                call = await session.get(Call, call_id)
                if call is None:
                    return
                spec = spec_of(call)
                transcript = list(call.transcript or [])
                stale = call.session_completed_at is not None and call.session_completed_at < utcnow() - GIVE_UP_AFTER
                logs = await function_calls_of(session, call_id) if spec and spec.include_tool_logs else []
            if spec is None:
                result = None
            elif stale:
                result = rules.block(
                    ExtractionStatus.FAILED, values=rules.empty_values(spec),
                    error="extraction did not finish in time (the worker was interrupted)",
                )
            else:
                result = await extract(
                    settings=self.settings, http=self.platform.http, spec=spec, transcript=transcript,
                    function_calls=logs,
                )
            await self._finish(call_id, result)
        except Exception:
            log.exception("extraction of call %s failed unexpectedly; it is retried after its lease", call_id)

    async def _finish(self, call_id: str, result: dict[str, Any] | None) -> None:
        from callwright.services.call_state import lock_call
        from callwright.services.webhook_outbox import wake_after_commit

        async with self.platform.sessions() as session:
            call = await lock_call(session, call_id)
            if call is None:
                return
            # A replay stored meanwhile (POST /calls/{id}/extract) is newer: the call keeps it.
            if (call.extraction or {}).get("status") == ExtractionStatus.PENDING.value:
                call.extraction = result
            call.extraction_due_at = None
            event = await session.scalar(
                select(WebhookEvent).where(
                    WebhookEvent.call_id == call_id, WebhookEvent.type == EventType.SESSION_COMPLETED.value
                )
            )
            if event is not None:
                attempted = await session.scalar(
                    select(WebhookDelivery.id).where(
                        WebhookDelivery.event_id == event.id, WebhookDelivery.attempt_count > 0
                    ).limit(1)
                )
                if attempted is None:  # nothing sent yet: the event carries the result
                    event.data = {**(event.data or {}), "extraction": result}
                    await session.execute(
                        update(WebhookDelivery)
                        .where(
                            WebhookDelivery.event_id == event.id,
                            WebhookDelivery.status == DeliveryStatus.PENDING.value,
                            WebhookDelivery.attempt_count == 0,
                        )
                        .values(next_attempt_at=utcnow())
                    )
                    wake_after_commit(session)
            await session.commit()


# --- the replay endpoint ---------------------------------------------------------------------------


async def replay(*, platform: Platform, session: AsyncSession, partner: Partner, call_id: str, dry_run: bool) -> dict[str, Any]:
    """``POST /calls/{id}/extract``: extraction again on the stored transcript with the agent's
    *current* schema; stored on the call unless ``dry_run``; the webhook is never sent again."""
    from callwright.services.calls import get_call

    call = await get_call(session=session, partner=partner, call_id=call_id)
    agent = await session.scalar(select(Agent).where(Agent.id == call.agent_id, Agent.partner_id == partner.id))
    spec = AgentSpec.parse(agent.settings or {}).extraction_config if agent is not None else None
    if spec is None:
        raise BadRequest(
            "the call's agent has no extraction_config; set one with PUT /agent/{id} before replaying extraction",
            code="extraction_not_configured",
        )
    transcript = list(call.transcript or [])
    logs = await function_calls_of(session, call.id) if spec.include_tool_logs else []
    session_id = call.session_id
    await session.commit()  # no connection held while the model answers
    result = await extract(
        settings=platform.settings, http=platform.http, spec=spec, transcript=transcript, function_calls=logs
    )
    if not dry_run:
        await session.execute(update(Call).where(Call.id == call_id).values(extraction=result))
        await session.commit()
    return {"call_id": call_id, "session_id": session_id, "dry_run": dry_run, "extraction": result}
