"""The simulator's own signing and G.711, against independent oracles: the carriers' official SDK
validators (carriers.md §7) and the standard library's reference µ-law coder.
"""

from __future__ import annotations

import base64
import warnings

import numpy as np
import pytest
from plivo.utils import validate_v3_signature as plivo_validate_v3
from twilio.request_validator import RequestValidator
from vobiz.utils import validate_signature as vobiz_validate_v2
from vobiz.utils import validate_v3_signature as vobiz_validate_v3

from callwright.sim import signing
from callwright.sim.audio import MULAW_8K, AudioFormat, tone, ulaw_decode, ulaw_encode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

TOKEN = "the-account-token"
PARAMS = {"CallUUID": "c-1", "From": "+14155550100", "To": "+14155550101", "Event": "StartApp"}
URLS = [
    "https://platform.example/telephony/plivo/answer",
    "http://127.0.0.1:8080/telephony/plivo/answer?token=abc&call=42",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("params", [PARAMS, {}], ids=["with-params", "no-params"])
def test_plivo_v3_signature_validates_with_the_plivo_sdk(url, params):
    headers = signing.plivo_headers(
        auth_token=TOKEN, method="POST", url=url, params=params, main_account=True
    )
    nonce, signature = headers["X-Plivo-Signature-V3-Nonce"], headers["X-Plivo-Signature-V3"]
    assert plivo_validate_v3("POST", url, nonce, TOKEN, signature, dict(params))
    assert not plivo_validate_v3("POST", url, nonce, "another-token", signature, dict(params))
    if params:  # the POST params are signed: a changed value breaks it
        assert not plivo_validate_v3("POST", url, nonce, TOKEN, signature, {**params, "To": "+1"})


def test_plivo_v3_get_signature_validates_with_the_plivo_sdk():
    url = URLS[1] + "&CallUUID=c-1&Event=Hangup"
    signature = signing.plivo_v3_signature(
        auth_token=TOKEN, method="GET", url=url, params={}, nonce="123"
    )
    assert plivo_validate_v3("GET", url, "123", TOKEN, signature, {})


@pytest.mark.parametrize("url", URLS)
def test_vobiz_v2_and_v3_signatures_validate_with_the_vobiz_sdk(url):
    headers = signing.vobiz_headers(auth_token=TOKEN, url=url)
    v2_nonce, v2 = headers["X-Vobiz-Signature-V2-Nonce"], headers["X-Vobiz-Signature-V2"]
    assert vobiz_validate_v2(url, v2_nonce, v2, TOKEN)
    # §1.9: the SDK's V3 matches the documented formula only with no params and no query.
    bare = signing.url_without_query(url)
    v3, nonce = headers["X-Vobiz-Signature-V3"], headers["X-Vobiz-Signature-V3-Nonce"]
    assert vobiz_validate_v3("POST", bare, nonce, TOKEN, v3, {})
    assert not vobiz_validate_v3("POST", bare, nonce, "another-token", v3, {})


@pytest.mark.parametrize("url", URLS)
def test_twilio_signature_validates_with_the_twilio_sdk(url):
    headers = signing.twilio_headers(auth_token=TOKEN, url=url, params=PARAMS)
    validator = RequestValidator(TOKEN)
    assert validator.validate(url, PARAMS, headers["X-Twilio-Signature"])
    assert not RequestValidator("another").validate(url, PARAMS, headers["X-Twilio-Signature"])
    assert not validator.validate(url, {**PARAMS, "To": "+1"}, headers["X-Twilio-Signature"])


def test_mulaw_matches_the_reference_coder_for_every_sample():
    every = np.arange(-32768, 32768, dtype=np.int16)
    assert ulaw_encode(every) == audioop.lin2ulaw(every.tobytes(), 2)
    codes = bytes(range(256))
    assert ulaw_decode(codes).astype("<i2").tobytes() == audioop.ulaw2lin(codes, 2)


@pytest.mark.parametrize(
    ("fmt", "frame_bytes"),
    [
        (MULAW_8K, 160),
        (AudioFormat("l16", 8000), 320),
        (AudioFormat("l16", 16000), 640),
        (AudioFormat("l16", 8000, frame_ms=200), 3200),
    ],
)
def test_formats_round_trip_a_frame(fmt, frame_bytes):
    pcm = tone(400, fmt.frame_ms / 1000)
    wire = fmt.encode(pcm)
    assert len(wire) == fmt.frame_bytes == frame_bytes
    back = fmt.decode(wire)
    assert len(back) == len(pcm)
    assert np.corrcoef(back.astype(float), pcm.astype(float))[0, 1] > 0.95


def test_l16_byte_order_is_honoured():
    pcm = np.array([1, 256, -2], dtype=np.int16)
    assert AudioFormat("l16", big_endian=True).encode(pcm) == b"\x00\x01\x01\x00\xff\xfe"
    assert AudioFormat("l16").encode(pcm) == b"\x01\x00\x00\x01\xfe\xff"
    assert base64.b64decode(base64.b64encode(AudioFormat("l16").encode(pcm))) == pcm.tobytes()
