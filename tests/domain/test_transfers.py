"""Transfer and DTMF rules in our words, and each carrier's words for a dial's outcome."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from callwright.carriers import get_carrier
from callwright.carriers.base import NotSupported
from callwright.domain.providers import Provider
from callwright.domain.transfers import (
    DialResult,
    TransferSource,
    TransferStatus,
    dtmf_digits,
    failed_record,
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
    if not transfer:
        with pytest.raises(NotSupported, match=carrier.display_name):
            carrier.transfer_document(to="+14155551234", caller_id="+1", action_url="u")
