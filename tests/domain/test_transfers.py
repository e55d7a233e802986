"""Transfer and DTMF rules in our words, and each carrier's words for a dial's outcome."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from callwright.carriers import get_carrier
from callwright.carriers.base import NotSupported
from callwright.domain.providers import Provider
from callwright.domain.transfers import (
    SUMMARY_MAX_CHARS,
    DialResult,
    TransferMode,
    TransferSource,
    TransferStatus,
    consult_result,
    dtmf_digits,
    failed_record,
    mode_of,
    offline_summary,
    pending_record,
    settled_record,
    transfer_destination,
)


@pytest.mark.parametrize(("value", "expected"), [
    ("+14155551234", "+14155551234"), (" +919876543210 ", "+919876543210"),
    ("9876543210", None), ("+1 415 555", None), ("", None), (None, None), ("+14155551234<+1415", None),
])
def test_a_transfer_goes_to_one_e164_number(value, expected):
    assert transfer_destination(value) == expected


@pytest.mark.parametrize(("value", "expected"), [("1", "1"), ("12#", "12#"), ("*9w1", "*9w1"), ("1a", None), ("", None)])
def test_key_presses_are_keypad_keys_and_waits(value, expected):
    assert dtmf_digits(value) == expected


def test_a_record_goes_from_pending_to_its_outcome():
    record = pending_record(to="+14155551234", source=TransferSource.AGENT, requested_at="t0")
    assert record["status"] == "pending" and record["source"] == "agent"
    settled = settled_record(record, DialResult(TransferStatus.BUSY, "busy", "USER_BUSY"), completed_at="t1")
    assert (settled["status"], settled["carrier_status"], settled["carrier_reason"]) == ("busy", "busy", "USER_BUSY")
    failed = failed_record(record, "Plivo refused the request with HTTP 400", completed_at="t1")
    assert (failed["status"], failed["carrier_status"]) == ("failed", "request_refused")


@pytest.mark.parametrize(("provider", "field"), [(Provider.PLIVO, "DialStatus"), (Provider.VOBIZ, "DialStatus"), (Provider.TWILIO, "DialCallStatus")])
@pytest.mark.parametrize(("words", "status"), [
    ("completed", TransferStatus.TRANSFERRED), ("answered", TransferStatus.TRANSFERRED),
    ("busy", TransferStatus.BUSY), ("no-answer", TransferStatus.NO_ANSWER), ("timeout", TransferStatus.NO_ANSWER),
    ("failed", TransferStatus.FAILED), ("canceled", TransferStatus.FAILED), ("something-new", TransferStatus.FAILED),
])
def test_each_carriers_dial_report_is_typed(provider, field, words, status):
    result = get_carrier(provider).parse_dial_result({field: words})
    assert result is not None and (result.status, result.carrier_status) == (status, words)


@pytest.mark.parametrize("provider", [Provider.PLIVO, Provider.VOBIZ])
def test_the_plivo_family_dial_document(provider):
    carrier = get_carrier(provider)
    document = carrier.transfer_document(to="+14155551234", caller_id="+918011223344", action_url="https://cw/dial?token=t")
    dial = ET.fromstring(document.body).find("Dial")
    assert dial is not None and dial.get("action") == "https://cw/dial?token=t" and dial.get("callerId") == "+918011223344"
    assert dial.findtext("Number") == "+14155551234"


@pytest.mark.parametrize(("provider", "say"), [(Provider.PLIVO, "Speak"), (Provider.TWILIO, "Say")])
def test_after_the_dial_the_caller_hears_why_or_the_call_hangs_up(provider, say):
    carrier = get_carrier(provider)
    missed = ET.fromstring(carrier.after_dial_document(DialResult(TransferStatus.NO_ANSWER, "no-answer"), message="Nobody.").body)
    assert [(e.tag, e.text) for e in missed] == [(say, "Nobody."), ("Hangup", None)]
    bridged = ET.fromstring(carrier.after_dial_document(DialResult(TransferStatus.TRANSFERRED, "completed"), message="Nobody.").body)
    assert [e.tag for e in bridged] == ["Hangup"]


@pytest.mark.parametrize(("provider", "transfer", "dtmf"), [
    (Provider.PLIVO, True, True), (Provider.VOBIZ, True, True), (Provider.TWILIO, True, False),
    (Provider.EXOTEL, False, False), (Provider.MCUBE, False, False),
])
def test_what_each_carrier_supports(provider, transfer, dtmf):
    carrier = get_carrier(provider)
    assert (carrier.supports_transfer, carrier.supports_send_dtmf) == (transfer, dtmf)
    assert carrier.supports_warm_transfer is transfer  # warm is built wherever cold is
    if not transfer:
        with pytest.raises(NotSupported, match=carrier.display_name):
            carrier.transfer_document(to="+14155551234", caller_id="+1", action_url="u")
        with pytest.raises(NotSupported, match=carrier.display_name):
            carrier.conference_document(room="r")


def test_a_warm_record_says_its_mode_and_old_records_are_cold():
    record = pending_record(to="+14155551234", source=TransferSource.API, requested_at="t0", mode=TransferMode.WARM)
    assert mode_of(record) is TransferMode.WARM
    assert mode_of({"status": "busy"}) is TransferMode.COLD and mode_of(None) is TransferMode.COLD


@pytest.mark.parametrize(("ended", "status"), [
    ("busy", TransferStatus.BUSY), ("no_answer", TransferStatus.NO_ANSWER),
    ("failed", TransferStatus.FAILED), ("canceled", TransferStatus.FAILED), ("completed", TransferStatus.FAILED),
])
def test_a_consult_leg_that_ends_before_the_bridge_is_typed(ended, status):
    result = consult_result(ended, carrier_status="words", carrier_reason="cause")
    assert (result.status, result.carrier_status, result.carrier_reason) == (status, "words", "cause")


def test_the_offline_summary_quotes_the_caller_and_the_agent():
    turns = [
        {"role": "bot", "content": "Hi, this is Maya from Acme."},
        {"role": "user", "content": "My order 1234 never came."},
        {"role": "bot", "content": "I'm sorry to hear that."},
        {"role": "user", "content": "DTMF: 1#"},
        {"role": "user", "content": "Can I talk to a person?"},
        {"role": "bot", "content": "Please hold."},  # the transfer message
    ]
    summary = offline_summary(turns)
    assert summary == (
        'Incoming transfer from the AI agent. The caller said: "My order 1234 never came. Can I talk to a '
        'person?". The agent last said: "I\'m sorry to hear that.". Connecting you now.'
    )
    assert offline_summary([]) == "Incoming transfer from the AI agent. The caller asked to speak with a person. Connecting you now."
    long = offline_summary([{"role": "user", "content": "word " * 400}])
    assert len(long) <= SUMMARY_MAX_CHARS and long.endswith("…")


@pytest.mark.parametrize(("provider", "say", "in_dial"), [
    (Provider.PLIVO, "Speak", False), (Provider.VOBIZ, "Speak", False), (Provider.TWILIO, "Say", True),
])
def test_the_warm_documents_say_the_summary_then_redirect_and_join_one_room(provider, say, in_dial):
    carrier = get_carrier(provider)
    consult = ET.fromstring(carrier.summary_document(summary="A & B <ok>", bridge_url="https://cw/bridge?token=t&x=1").body)
    assert [(e.tag, e.text) for e in consult] == [(say, "A & B <ok>"), ("Redirect", "https://cw/bridge?token=t&x=1")]
    room = ET.fromstring(carrier.conference_document(room="callwright-1").body)
    conference = room.find("Dial/Conference" if in_dial else "Conference")
    assert conference is not None and conference.text == "callwright-1"
    assert (conference.get("startConferenceOnEnter"), conference.get("endConferenceOnExit")) == ("true", "true")
    goodbye = ET.fromstring(carrier.goodbye_document(message="Bye.").body)
    assert [(e.tag, e.text) for e in goodbye] == [(say, "Bye."), ("Hangup", None)]
