"""What a call's tools do on the platform's side (``voice.tools.InCallActions``): call a custom
function through the SSRF guard, put the callee on the suppression list, and record each in the
call's event trail (``call_events``: ``function_called``, ``opted_out``).

Built once when the call's media starts: the agent snapshot's ``function_ids`` are loaded (one
query) and their header values opened; a function deleted since the call started is not offered.
An invocation's record holds its name, arguments, status, latency and answer size, never header
values or the answer itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from callwright.carriers import get_carrier
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.functions import FunctionTool
from callwright.domain.providers import Provider
from callwright.domain.suppression import SOURCE_IN_CALL
from callwright.domain.transfers import TransferMode, TransferSource, is_pending, transfer_destination
from callwright.services import function_calls, transfers
from callwright.services.call_state import record_event
from callwright.services.suppression import suppress_now
from callwright.services.webhook_targets import policy_for
from callwright.store.models import Call, Function

if TYPE_CHECKING:
    from callwright.platform import Platform

SOURCE_MEDIA = "media"


def callee_number(call: Call) -> str:
    """The other party's number: whom an outbound call rang, or who rang an inbound one."""
    return call.from_number if call.direction == "inbound" else call.to_number


def opt_out_offered(call: Call, spec: AgentSpec) -> bool:
    """Campaign calls always offer ``opt_out``; other calls when the agent enables it or its
    script has an opt-out rule."""
    scripted = spec.script is not None and any(rule.opt_out for rule in spec.script.rules)
    return call.campaign_id is not None or spec.opt_out_enabled or scripted


@dataclass
class CallActions:
    platform: Platform
    call_id: str
    partner_id: str
    callee: str
    functions: Sequence[FunctionTool] = ()
    variables: Mapping[str, Any] = field(default_factory=dict)
    opt_out_offered: bool = False
    transfer_number: str | None = None  # the agent's, where its carrier can transfer
    dtmf_offered: bool = False
    transfer_mode: str = TransferMode.COLD.value  # the agent's, for transfer_call

    async def start_transfer(
        self, to: str, source: str, mode: str = "cold", transcript: Sequence[Mapping[str, Any]] = ()
    ) -> bool:
        return await transfers.start_transfer(
            platform=self.platform, call_id=self.call_id, to=to, source=TransferSource(source),
            mode=TransferMode(mode), transcript=transcript,
        )

    async def send_dtmf(self, digits: str) -> None:
        await transfers.send_dtmf(platform=self.platform, call_id=self.call_id, digits=digits)

    async def call_function(self, tool: FunctionTool, arguments: Mapping[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            outcome = await function_calls.invoke(
                self.platform.http, tool, arguments=arguments, variables=self.variables,
                policy=policy_for(self.platform.settings),
            )
        except asyncio.CancelledError:
            # The caller spoke over the turn (Pipecat cancels its tool calls) or the call ended.
            latency = round((time.monotonic() - started) * 1000)
            cancelled = function_calls.Invocation("cancelled", latency, error="cancelled: the turn was interrupted")
            await asyncio.shield(self._record("function_called", cancelled.event_payload(tool.name, arguments)))
            raise
        await self._record("function_called", outcome.event_payload(tool.name, arguments))
        return outcome.for_model()

    async def opt_out(self, reason: str | None) -> bool:
        async with self.platform.sessions() as session:
            call = await session.get(Call, self.call_id)
            added = await session.run_sync(
                lambda s: suppress_now(
                    s, partner_id=self.partner_id, phone=self.callee, reason=reason or "asked during the call",
                    source=SOURCE_IN_CALL, call_id=self.call_id,
                )
            )
            if call is not None:
                record_event(
                    session, call, kind="opted_out", source=SOURCE_MEDIA, before=call.status,
                    payload={"reason": reason, "already_suppressed": not added},
                )
            await session.commit()
        return added

    async def _record(self, kind: str, payload: dict[str, Any]) -> None:
        async with self.platform.sessions() as session:
            call = await session.get(Call, self.call_id)
            if call is not None:
                record_event(session, call, kind=kind, source=SOURCE_MEDIA, before=call.status, payload=payload)
            await session.commit()


async def actions_for_call(*, platform: Platform, call: Call) -> CallActions | None:
    """The call's tools, or None when it has none (no functions attached, no opt-out)."""
    spec = AgentSpec.parse(call.agent or {})
    offered = opt_out_offered(call, spec)
    tools: list[FunctionTool] = []
    if spec.function_ids:
        async with platform.sessions() as session:
            rows = {
                f.id: f
                for f in await session.scalars(
                    select(Function).where(Function.partner_id == call.partner_id, Function.id.in_(spec.function_ids))
                )
            }
        tools = [function_calls.tool_of(rows[i], secretbox=platform.secretbox) for i in spec.function_ids if i in rows]
    carrier = get_carrier(Provider(call.provider))
    transfer_number = None
    # Offered until a transfer has run. A pending record may be the partner's request racing
    # this stream's start: the session must be able to carry it out (``POST /calls/{id}/transfer``
    # answers "queued" once a session holds the call).
    if spec.transfer_enabled and carrier.supports_transfer and (call.transfer is None or is_pending(call.transfer)):
        transfer_number = transfer_destination(spec.transfer_number)
    dtmf = spec.send_dtmf_enabled and carrier.supports_send_dtmf
    if not tools and not offered and transfer_number is None and not dtmf:
        return None
    return CallActions(
        platform=platform, call_id=call.id, partner_id=call.partner_id, callee=callee_number(call),
        functions=tools, variables=dict(call.variables or {}), opt_out_offered=offered,
        transfer_number=transfer_number, dtmf_offered=dtmf,
        transfer_mode=spec.transfer_mode.value,
    )
