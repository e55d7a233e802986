"""The ``transfer_call`` and ``send_dtmf`` tools.

``transfer_call`` (offered when the agent has ``transfer_enabled`` and its carrier can transfer):
the model sees it described with the agent's ``transfer_instructions``, which are also spliced into
its prompt under "When to transfer the call", as end-call instructions are. When the model calls
it, no further turn is asked; the session lets the reply already spoken play out, says the
``transfer_message`` and has the carrier dial the human (``services.transfers``).

``send_dtmf`` (offered where the carrier can press keys mid-stream: Plivo, Vobiz): the model
presses keys to get through an IVR menu; it then waits for what the menu says next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import FunctionCallResultProperties
from pipecat.services.llm_service import FunctionCallParams, LLMService

from callwright.domain.transfers import dtmf_digits

TRANSFER_CALL = "transfer_call"
SEND_DTMF = "send_dtmf"
TRANSFER_DESCRIPTION = (
    "Transfer this phone call to a human colleague. Call this when the caller should speak to a "
    "person rather than to you. The caller is told they are being transferred."
)
SEND_DTMF_DESCRIPTION = (
    "Press keys on the phone's keypad, e.g. to choose an option in an automated phone menu "
    "(\"press 1 for sales\"). Then wait for what the menu says next."
)


def transfer_prompt(prompt: str, instructions: str | None) -> str:
    """The agent's prompt with its transfer instructions spliced in."""
    if not instructions or not instructions.strip():
        return prompt
    section = f"When to transfer the call:\n{instructions.strip()}"
    return f"{prompt.rstrip()}\n\n{section}" if prompt.strip() else section


def transfer_tool(instructions: str | None = None) -> FunctionSchema:
    description = TRANSFER_DESCRIPTION
    if instructions and instructions.strip():
        description += f" When to transfer: {instructions.strip()}"
    return FunctionSchema(name=TRANSFER_CALL, description=description, properties={}, required=[])


def send_dtmf_tool() -> FunctionSchema:
    return FunctionSchema(
        name=SEND_DTMF,
        description=SEND_DTMF_DESCRIPTION,
        properties={"digits": {"type": "string", "description": "The keys to press: 0-9, * and #."}},
        required=["digits"],
    )


def offer_transfer(
    llm: LLMService, *, instructions: str | None, on_transfer: Callable[[], Awaitable[None]]
) -> FunctionSchema:
    """Have ``on_transfer`` run when the model uses ``transfer_call``; the schema to advertise."""

    async def _transfer(params: FunctionCallParams) -> None:
        await params.result_callback(
            {"status": "transferring the call"}, properties=FunctionCallResultProperties(run_llm=False)
        )
        await on_transfer()  # schedules the transfer; must not wait for the playout here

    llm.register_function(TRANSFER_CALL, _transfer)
    return transfer_tool(instructions)


def offer_send_dtmf(llm: LLMService, *, send: Callable[[str], Awaitable[None]]) -> FunctionSchema:
    """Have ``send`` press the digits the model asks for; the schema to advertise."""

    async def _send_dtmf(params: FunctionCallParams) -> None:
        digits = dtmf_digits(str((params.arguments or {}).get("digits", "")))
        if digits is None:
            result = {"status": "error", "error": "digits must be 1 to 32 of 0-9, * and #"}
            await params.result_callback(result)
            return
        try:
            await send(digits)
        except Exception as exc:  # the carrier refused: the model hears why and goes on
            result = {"status": "error", "error": str(exc)}
        else:
            result = {"status": "ok", "pressed": digits}
        # The menu speaks next; the model answers that, not its own key press.
        await params.result_callback(result, properties=FunctionCallResultProperties(run_llm=False))

    llm.register_function(SEND_DTMF, _send_dtmf)
    return send_dtmf_tool()
