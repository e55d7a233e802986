"""The human's phone behind a cold transfer's ``<Dial>`` (PlivoXML, VobizXML, TwiML).

The dialled number plays its own scenario (``CarrierSimulator.set_scenario``): ``answer`` picks up
after ``ring_secs`` and talks until ``hangs_up_after_secs`` (default ``TALK_SECS``), then hangs up;
``busy`` is busy after ``ring_secs``; ``no_answer`` rings until the ``<Dial>``'s ``timeout``
(or its own ``no_answer_after_secs``, if shorter); ``failed`` fails at once. The outcome goes to
the ``<Dial>``'s ``action`` URL in the carrier's words, and the call runs the document it gets back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callwright.sim.calls import DialLeg
from callwright.sim.scenarios import Outcome

if TYPE_CHECKING:
    from callwright.sim.farend.base import FarEnd

TALK_SECS = 1.0
DEFAULT_TIMEOUT_SECS = 30.0  # Plivo's and Twilio's <Dial> timeout default


@dataclass(frozen=True, slots=True)
class DialWords:
    """How a carrier words a dial's outcome: Plivo's DialStatus/DialHangupCause (guessed causes
    from its hang-up cause table), Twilio's DialCallStatus."""

    status_field: str
    completed: str = "completed"
    busy: str = "busy"
    no_answer: str = "no-answer"
    failed: str = "failed"
    reason_field: str | None = None


PLIVO_WORDS = DialWords("DialStatus", reason_field="DialHangupCause")
TWILIO_WORDS = DialWords("DialCallStatus")
_CAUSES = {"completed": "NORMAL_CLEARING", "busy": "USER_BUSY", "no-answer": "NO_ANSWER", "failed": "CALL_REJECTED"}


async def run_dial(far_end: FarEnd, verb: ET.Element, words: DialWords) -> dict[str, str] | None:
    """Ring the ``<Number>`` and play its scenario; the action URL's fields (None: the caller hung
    up meanwhile)."""
    number = (verb.findtext("Number") or "").strip()
    call = far_end.call
    leg = DialLeg(to=number, started_at=call.now())
    call.dials.append(leg)
    scenario = far_end.switchboard.state.scenarios.for_number(number)
    timeout = float(verb.get("timeout") or DEFAULT_TIMEOUT_SECS)
    if scenario.outcome is Outcome.FAILED:
        status = words.failed
    elif scenario.outcome is Outcome.BUSY:
        if not await far_end.wait(scenario.ring_secs):
            return None
        status = words.busy
    elif scenario.outcome in (Outcome.NO_ANSWER, Outcome.VOICEMAIL) or scenario.ring_secs > timeout:
        give_up = scenario.no_answer_after_secs
        if not await far_end.wait(timeout if give_up is None else min(give_up, timeout)):
            return None
        status = words.no_answer
    else:
        if not await far_end.wait(scenario.ring_secs):
            return None
        leg.answered_at = call.now()
        talk = scenario.hangs_up_after_secs if scenario.hangs_up_after_secs is not None else TALK_SECS
        if not await far_end.wait(talk):
            return None
        status = words.completed
    leg.status, leg.ended_at = status, call.now()
    fields = {words.status_field: status}
    if words.reason_field:
        fields[words.reason_field] = _CAUSES.get(status, "NORMAL_CLEARING")
    if leg.answered_at is not None:
        fields["DialCallDuration" if words is TWILIO_WORDS else "DialDuration"] = str(
            round(leg.ended_at - leg.answered_at)
        )
    return fields
