"""The XML of a cold transfer, for the carriers that take a ``<Dial>`` (PlivoXML, VobizXML, TwiML),
and how each reports that dial back.

- Plivo and Vobiz: the live call's transfer API (``POST /Call/{uuid}/`` with ``legs=aleg`` and
  ``aleg_url``) makes the carrier leave the ``<Stream>`` and fetch ``aleg_url``; ours answers
  ``<Dial action=… timeout=…><Number>…</Number></Dial>``. When the dial is over the carrier POSTs
  the ``action`` URL with ``DialStatus`` (completed, busy, failed, timeout, no-answer) and
  ``DialHangupCause``, and runs the XML it gets back (plivo.com/docs/voice/xml/dial, the Dial
  element's action URL parameters; VobizXML mirrors it).
- Twilio: a call update with ``Twiml=<Response><Dial action=…>`` (twilio.com/docs/voice/api/call-
  resource#update-a-call-resource) ends the ``<Connect><Stream>`` and dials. The action URL gets
  ``DialCallStatus`` (completed, answered, busy, no-answer, failed, canceled).

And the documents of a warm transfer: the human's leg hears the summary (``<Speak>`` / ``<Say>``)
and then asks our bridge URL (``<Redirect>``, in PlivoXML, VobizXML and TwiML); both legs then join
one conference room (PlivoXML's and VobizXML's ``<Conference>`` element, TwiML's
``<Dial><Conference>``), which ends when either leaves (``endConferenceOnExit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree import ElementTree

from callwright.carriers._wire import text
from callwright.domain.transfers import DIAL_TIMEOUT_SECS, DialResult, TransferStatus

# Plivo's DialStatus and Twilio's DialCallStatus, in our words. "completed" and "answered" mean the
# human picked up; Plivo says "timeout" where Twilio says "no-answer".
_DIAL_STATUSES = {
    "completed": TransferStatus.TRANSFERRED,
    "answered": TransferStatus.TRANSFERRED,
    "busy": TransferStatus.BUSY,
    "no-answer": TransferStatus.NO_ANSWER,
    "timeout": TransferStatus.NO_ANSWER,
    "failed": TransferStatus.FAILED,
    "canceled": TransferStatus.FAILED,
}


def dial_document(*, to: str, caller_id: str, action_url: str, caller_id_attribute: str) -> str:
    response = ElementTree.Element("Response")
    attributes = {
        "action": action_url,
        "method": "POST",
        "timeout": str(DIAL_TIMEOUT_SECS),
        caller_id_attribute: caller_id,
    }
    dial = ElementTree.SubElement(response, "Dial", attributes)
    ElementTree.SubElement(dial, "Number").text = to
    return ElementTree.tostring(response, encoding="unicode")


def after_dial(result: DialResult, *, message: str, say_verb: str) -> str:
    """Hang up after a bridged call; otherwise say ``message`` first (``<Speak>`` / ``<Say>``)."""
    return spoken_hangup("" if result.status.reached else message, say_verb=say_verb)


def spoken_hangup(message: str, *, say_verb: str) -> str:
    """``<Response><Say>message</Say><Hangup/></Response>`` (``<Speak>`` for Plivo and Vobiz);
    just the hang-up when there is nothing to say."""
    response = ElementTree.Element("Response")
    if message.strip():
        ElementTree.SubElement(response, say_verb).text = message.strip()
    ElementTree.SubElement(response, "Hangup")
    return ElementTree.tostring(response, encoding="unicode")


def dial_result(params: Mapping[str, str], *, status_field: str, reason_field: str) -> DialResult | None:
    carrier_status = text(params, status_field).lower()
    if not carrier_status:
        return None
    status = _DIAL_STATUSES.get(carrier_status, TransferStatus.FAILED)
    return DialResult(status, carrier_status, text(params, reason_field) or None)


def summary_document(*, summary: str, bridge_url: str, say_verb: str) -> str:
    """Say ``summary`` to the human, then fetch ``bridge_url``: its request means they heard it."""
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, say_verb).text = summary
    ElementTree.SubElement(response, "Redirect", {"method": "POST"}).text = bridge_url
    return ElementTree.tostring(response, encoding="unicode")


def conference_document(*, room: str, in_dial: bool) -> str:
    """Join ``room``; the conference ends for both when either leaves. Plivo and Vobiz take
    ``<Conference>`` as a verb of its own; TwiML nests it in ``<Dial>``. No beep, and no hold
    music for whoever is first in (Twilio's ``waitUrl=""``; Plivo plays none without
    ``waitSound``)."""
    response = ElementTree.Element("Response")
    parent = ElementTree.SubElement(response, "Dial") if in_dial else response
    attributes = {"startConferenceOnEnter": "true", "endConferenceOnExit": "true"}
    if in_dial:
        attributes |= {"beep": "false", "waitUrl": ""}
    ElementTree.SubElement(parent, "Conference", attributes).text = room
    return ElementTree.tostring(response, encoding="unicode")


def goodbye_document(*, message: str, say_verb: str) -> str:
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, say_verb).text = message
    ElementTree.SubElement(response, "Hangup")
    return ElementTree.tostring(response, encoding="unicode")
