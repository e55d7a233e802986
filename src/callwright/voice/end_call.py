"""The ``end_call`` tool: how a model-driven agent hangs up when ``end_call_enabled`` is on.

The model sees one function, ``end_call``, described with the agent's ``end_call_instructions``
(also in its prompt, under "When to end the call"). When it calls it, the call is settled without
another model turn, and the session lets the reply already spoken play out, says the agent's
``end_call_message`` if it has one, and hangs up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import FunctionCallResultProperties
from pipecat.services.llm_service import FunctionCallParams, LLMService

END_CALL = "end_call"
DEFAULT_DESCRIPTION = (
    "Hang up the phone call. Call this once the conversation is over: the caller has said "
    "goodbye, asked to end the call, or there is nothing left to do. Say any goodbye first."
)


def end_call_prompt(prompt: str, instructions: str | None) -> str:
    """The agent's prompt with its end-call instructions spliced in, as Vocobase does."""
    if not instructions or not instructions.strip():
        return prompt
    section = f"When to end the call:\n{instructions.strip()}"
    return f"{prompt.rstrip()}\n\n{section}" if prompt.strip() else section


def end_call_tool(instructions: str | None = None) -> FunctionSchema:
    description = DEFAULT_DESCRIPTION
    if instructions and instructions.strip():
        description += f" When to end the call: {instructions.strip()}"
    return FunctionSchema(name=END_CALL, description=description, properties={}, required=[])


def offer_end_call(
    llm: LLMService,
    *,
    instructions: str | None,
    on_end_call: Callable[[], Awaitable[None]],
) -> FunctionSchema:
    """Have ``on_end_call`` run when the model uses ``end_call``; the schema to advertise in the
    context (with the call's other tools)."""

    async def _end_call(params: FunctionCallParams) -> None:
        # run_llm=False: the call is over; the model is not asked to say anything more.
        await params.result_callback(
            {"status": "ending the call"}, properties=FunctionCallResultProperties(run_llm=False)
        )
        await on_end_call()  # schedules the hang-up; must not wait for the playout here

    llm.register_function(END_CALL, _end_call)
    return end_call_tool(instructions)

