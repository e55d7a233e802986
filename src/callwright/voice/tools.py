"""In-call tools beside ``end_call``: the partner's custom functions and ``opt_out``.

The model sees each attached function by its name, description and input schema (fields named
after one of the call's pre-call variables are filled from it and not shown). When it calls one,
the caller hears one of the function's ``started_messages`` at once (no dead air), the platform
POSTs the arguments (``InCallActions.call_function``), and the JSON answer goes back to the model,
which speaks next. On a timeout or an error the caller hears the function's ``error_message``
and the model is not asked for another turn; the conversation goes on with the caller's next words.

``opt_out`` puts the callee's number on the partner's suppression list
(``InCallActions.opt_out``); the model is told it was done and says its goodbye.

A scripted brain calls the same tools by rule (``engines.llm_scripted``); its reply was already
spoken, so it is never asked for a further turn.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import FunctionCallResultProperties
from pipecat.services.llm_service import FunctionCallParams, LLMService

from callwright.domain.functions import FunctionTool

log = logging.getLogger("callwright.voice")

OPT_OUT = "opt_out"
OPT_OUT_DESCRIPTION = (
    "Put the person on this call on the do-not-call list. Call this when they ask not to be "
    "called again (\"don't call me again\", \"remove my number\", \"stop calling\"). Then confirm "
    "briefly and say goodbye."
)
# How much longer than a function's own timeout its tool call may run (the started message is
# queued, not awaited, so this only covers the platform's own bookkeeping).
TOOL_GRACE_SECS = 5.0

Speak = Callable[[str], Awaitable[None]]


class InCallActions(Protocol):
    """What the platform does for a call's tools (``services.call_tools``)."""

    @property
    def functions(self) -> Sequence[FunctionTool]: ...

    @property
    def variables(self) -> Mapping[str, Any]: ...

    @property
    def opt_out_offered(self) -> bool: ...

    async def call_function(self, tool: FunctionTool, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Call it and record the invocation; ``{"status": "ok", "result": …}`` or
        ``{"status": "error", "error": …}``."""
        ...

    async def opt_out(self, reason: str | None) -> bool:
        """Suppress the callee's number; False if it already was."""
        ...

    @property
    def transfer_number(self) -> str | None:
        """Where ``transfer_call`` hands the call (None: the tool is not offered)."""
        ...

    @property
    def dtmf_offered(self) -> bool: ...

    @property
    def transfer_mode(self) -> str:
        """How ``transfer_call`` hands the call over: ``cold`` or ``warm``."""
        ...

    async def start_transfer(
        self, to: str, source: str, mode: str = "cold", transcript: Sequence[Mapping[str, Any]] = ()
    ) -> bool:
        """Record the transfer and have the carrier dial ``to`` (warm: call the human first with a
        summary of ``transcript``); False if it could not."""
        ...

    async def send_dtmf(self, digits: str) -> None:
        """Press ``digits`` on the line through the carrier; raises its refusal."""
        ...


def function_schema(tool: FunctionTool, variables: Mapping[str, Any]) -> FunctionSchema:
    properties, required = tool.parameters(variables)
    return FunctionSchema(name=tool.name, description=tool.description, properties=properties, required=required)


def opt_out_schema() -> FunctionSchema:
    return FunctionSchema(
        name=OPT_OUT,
        description=OPT_OUT_DESCRIPTION,
        properties={"reason": {"type": "string", "description": "What the person said, in a few words."}},
        required=[],
    )


def offer_tools(llm: LLMService, *, actions: InCallActions, speak: Speak, scripted: bool) -> list[FunctionSchema]:
    """Register the call's functions (and ``opt_out`` when offered) on ``llm``; the schemas to
    advertise in the context. ``speak`` queues a line for the caller without waiting for it."""
    schemas = []
    for tool in actions.functions:
        llm.register_function(
            tool.name,
            _function_handler(tool, actions, speak, scripted=scripted),
            timeout_secs=tool.timeout_secs + TOOL_GRACE_SECS,
        )
        schemas.append(function_schema(tool, actions.variables))
    if actions.opt_out_offered:
        llm.register_function(OPT_OUT, _opt_out_handler(actions, scripted=scripted))
        schemas.append(opt_out_schema())
    return schemas


def _function_handler(
    tool: FunctionTool, actions: InCallActions, speak: Speak, *, scripted: bool
) -> Callable[[FunctionCallParams], Awaitable[None]]:
    async def _call(params: FunctionCallParams) -> None:
        if tool.started_messages:
            await speak(random.choice(tool.started_messages))
        outcome = await actions.call_function(tool, dict(params.arguments or {}))
        if outcome.get("status") == "ok":
            await params.result_callback(outcome, properties=_after(scripted))
            return
        await speak(tool.failure_line)
        # The caller heard the error message; the model waits for their next words.
        await params.result_callback(outcome, properties=FunctionCallResultProperties(run_llm=False))

    return _call


def _opt_out_handler(actions: InCallActions, *, scripted: bool) -> Callable[[FunctionCallParams], Awaitable[None]]:
    async def _opt_out(params: FunctionCallParams) -> None:
        reason = (params.arguments or {}).get("reason")
        result: dict[str, Any]
        try:
            # Shielded: a caller who talks on ("…ever again") interrupts the turn and Pipecat
            # cancels the tool call; the opt-out they asked for must still be stored.
            added = await asyncio.shield(actions.opt_out(str(reason)[:500] if reason else None))
        except Exception:
            log.exception("the opt-out could not be stored")
            result = {"status": "error", "error": "the number could not be removed; apologise and say someone will follow up"}
        else:
            result = {"status": "ok", "suppressed": True, "already_suppressed": not added}
        await params.result_callback(result, properties=_after(scripted))

    return _opt_out


def _after(scripted: bool) -> FunctionCallResultProperties | None:
    # A script's reply was spoken before its tool ran: no further turn is asked of it.
    return FunctionCallResultProperties(run_llm=False) if scripted else None
