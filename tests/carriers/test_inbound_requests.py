"""Each carrier's inbound request read into (call id, caller, called), and its spoken refusal,
against the carriers' documented field names (carriers.md §1.4, §2.10, §3.10; Exotel's applet URL
parameters)."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from callwright.carriers import get_carrier
from callwright.carriers.base import InboundCall
from callwright.domain.providers import Provider

TWILIO = {
    "AccountSid": "AC" + "1" * 32,
    "ApiVersion": "2010-04-01",
    "CallSid": "CA" + "2" * 32,
    "CallStatus": "ringing",
    "Called": "+14155550100",
    "Caller": "+14155550199",
    "Direction": "inbound",
    "From": "+14155550199",
    "To": "+14155550100",
}
PLIVO = {"CallUUID": "u-1", "From": "14155550199", "To": "14155550100", "CallStatus": "ringing", "Direction": "inbound", "Event": "StartApp"}
VOBIZ = {"CallUUID": "u-2", "From": "+919812345678", "To": "+918011223344", "CallStatus": "ringing", "Direction": "inbound", "Event": "StartApp"}
EXOTEL = {"CallSid": "e-3", "CallFrom": "09812345678", "CallTo": "08047112345", "Direction": "incoming", "CallType": "call-attempt"}


@pytest.mark.parametrize(
    ("provider", "params", "expected"),
    [
        (Provider.TWILIO, TWILIO, InboundCall("CA" + "2" * 32, "+14155550199", "+14155550100")),
        # Plivo writes numbers without the "+": made E.164.
        (Provider.PLIVO, PLIVO, InboundCall("u-1", "+14155550199", "+14155550100")),
        (Provider.VOBIZ, VOBIZ, InboundCall("u-2", "+919812345678", "+918011223344")),
        # Exotel writes Indian numbers nationally: the caller made E.164, the ExoPhone matched later.
        (Provider.EXOTEL, EXOTEL, InboundCall("e-3", "+919812345678", "08047112345")),
    ],
)
def test_an_inbound_request_names_the_call_the_caller_and_the_number(provider, params, expected):
    assert get_carrier(provider).parse_inbound(params) == expected


@pytest.mark.parametrize(
    ("provider", "params", "direction"),
    [
        (Provider.TWILIO, TWILIO, "outbound-api"),
        (Provider.PLIVO, PLIVO, "outbound"),
        (Provider.EXOTEL, EXOTEL, "outbound-dial"),
    ],
)
def test_a_request_about_another_direction_is_no_inbound_call(provider, params, direction):
    key = "Direction"
    assert get_carrier(provider).parse_inbound(params | {key: direction}) is None
    assert get_carrier(provider).parse_inbound({k: v for k, v in params.items() if k not in ("To", "CallTo")}) is None


@pytest.mark.parametrize(
    ("provider", "verb", "media_type"),
    [(Provider.TWILIO, "Say", "text/xml"), (Provider.PLIVO, "Speak", "application/xml"), (Provider.VOBIZ, "Speak", "application/xml")],
)
def test_a_refusal_is_spoken_then_hung_up(provider, verb, media_type):
    document = get_carrier(provider).refusal_document("Sorry, all our lines are busy.")
    assert document is not None and document.media_type == media_type
    root = ElementTree.fromstring(document.body)
    assert [(child.tag, (child.text or "").strip()) for child in root] == [(verb, "Sorry, all our lines are busy."), ("Hangup", "")]


def test_exotel_cannot_speak_a_refusal():
    # Its Voicebot applet takes a stream URL only: the refusal is an HTTP status instead.
    assert get_carrier(Provider.EXOTEL).refusal_document("Sorry.") is None
    assert not get_carrier(Provider.MCUBE).takes_inbound_calls
