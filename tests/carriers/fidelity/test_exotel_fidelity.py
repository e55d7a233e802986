"""Exotel, held to what Exotel's own docs and reference code say (not to our simulator's beliefs).

Sources (stored copies; see docs/carriers-exotel-mcube-fidelity.md):
- developer.exotel.com/docs/voice-v1/api-reference/status-callback and /api/statuscallback:
  StatusCallbackEvents (terminal, answered) add EventType, and Legs[] with AnsweredBy.
- Connect Voice AI call statuses (carriers.md §4.6): queued, in-progress, completed, failed, busy,
  no-answer. There is no ringing status; a call reads in-progress while it is still connecting.
- developer.exotel.com/docs/agentstream/websocket-protocol: the start message (snake_case).
- github.com/exotel/Agent-Stream (Exotel's reference code): integrations/agents/_shared/
  wss_server.py reads ``streamSid`` (then ``stream_sid``); _shared/media.py and exotel/bridge.py
  send ``{"event": "media", "streamSid", "media": {"payload", "chunk" | "timestamp",
  "sequenceNumber"}}``, sleeping for each chunk's duration.
- support.exotel.com "Working with the Stream applet": outbound chunks ≥ 3.2 KB, multiples of 320 B.
- developer.exotel.com/docs/agentstream/stream-voicebot-applet: the Voicebot applet's URL may be an
  HTTPS endpoint that returns the WSS URL.
- developer.exotel.com/api/exophone-details: the ExoPhone list is {"page", "page_size",
  "next_page_uri", "incoming_phone_numbers": [...]}, paged by Page/PageSize.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from pipecat.frames.frames import InterruptionFrame, OutputAudioRawFrame
from pydantic import ValidationError

from callwright.carriers import get_carrier
from callwright.carriers.base import CallbackKind
from callwright.carriers.exotel import ExotelCredentials
from callwright.carriers.exotel_media import ExotelMediaSerializer
from callwright.domain.calls import EventKind
from callwright.domain.errors import ValidationFailed
from callwright.domain.providers import Provider
from callwright.sim import Scenario
from tests.carriers.call_path_support import AT, ENDPOINTS, account, answering
from tests.e2e.helpers import ADMIN, heard_speech_secs, make_tenant, new_number, start_call, wait_for_status

EXOTEL = get_carrier(Provider.EXOTEL)
SID = "fidelity1"
CALL_SID = "c3b1a0f0e6f34c0f9e8b1d7a2c4e6f80"
ACCOUNT = account(
    {"account_sid": SID, "subdomain": "api.in.exotel.com", "caller_id": "08047361234"},
    {"api_key": "k", "api_token": "t"},
)


def kinds(**params: object) -> list[EventKind]:
    events = EXOTEL.parse_callback(CallbackKind.STATUS, {"CallSid": CALL_SID, **params}, received_at=AT)
    return [event.kind for event in events]


# --- status callbacks -----------------------------------------------------------------------------


def test_in_progress_alone_is_not_an_answer():
    # Exotel reports in-progress while still connecting; call details say the same.
    assert EventKind.ANSWERED not in kinds(Status="in-progress")


def test_event_type_is_read_before_status():
    assert kinds(EventType="ringing", Status="in-progress") == [EventKind.RINGING]
    assert kinds(EventType="answered", Status="in-progress") == [EventKind.ANSWERED]
    assert kinds(EventType="terminal", Status="busy") == [EventKind.ENDED]


@pytest.mark.parametrize(
    "legs",
    [
        {"Legs": [{"AnsweredBy": "MACHINE", "OnCallDuration": "0"}]},
        {"Legs": json.dumps([{"AnsweredBy": "MACHINE"}])},
        {"Legs[0][AnsweredBy]": "MACHINE", "Legs[0][Status]": "in-progress"},
    ],
    ids=["list", "json", "form-fields"],
)
def test_legs_answered_by_is_an_answering_machine_signal(legs):
    assert kinds(EventType="answered", Status="in-progress", **legs) == [
        EventKind.ANSWERED,
        EventKind.MACHINE_DETECTED,
    ]
    assert kinds(EventType="answered", Legs=[{"AnsweredBy": "HUMAN"}])[-1] is EventKind.HUMAN_DETECTED
    assert kinds(EventType="answered", Legs=[{"AnsweredBy": "NOT_SURE"}]) == [EventKind.ANSWERED]


# --- the media start ------------------------------------------------------------------------------


def test_camel_case_start_is_accepted_as_exotels_reference_code_reads_it():
    camel = {
        "event": "start",
        "streamSid": "MZ77",
        "start": {
            "streamSid": "MZ77",
            "callSid": CALL_SID,
            "customParameters": {"call_id": "c1", "token": "t1"},
            "mediaFormat": {"encoding": "audio/x-raw", "sampleRate": "16000"},
        },
    }
    start = EXOTEL.parse_media_start(camel)
    assert start is not None
    assert (start.stream_id, start.provider_call_id, start.sample_rate) == ("MZ77", CALL_SID, 16000)
    assert start.custom_parameters == {"call_id": "c1", "token": "t1"}
    snake = {"event": "start", "start": {"stream_sid": "MZ1", "call_sid": CALL_SID}}
    assert EXOTEL.parse_media_start(snake).stream_id == "MZ1"


# --- outbound media -------------------------------------------------------------------------------

START = {
    "event": "start",
    "stream_sid": "MZ9",
    "start": {"stream_sid": "MZ9", "call_sid": CALL_SID, "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000"}},
}


async def test_outbound_media_carries_the_reference_bots_fields():
    serializer = EXOTEL.media_serializer(EXOTEL.parse_media_start(START), ACCOUNT)
    pcm = b"\x01\x02" * 1600  # 200 ms at 8 kHz
    first = json.loads(await serializer.serialize(OutputAudioRawFrame(pcm, 8000, 1)))
    second = json.loads(await serializer.serialize(OutputAudioRawFrame(pcm, 8000, 1)))
    assert (first["event"], first["streamSid"], first["stream_sid"]) == ("media", "MZ9", "MZ9")
    assert (first["media"]["chunk"], second["media"]["chunk"]) == (1, 2)
    assert (first["media"]["sequenceNumber"], second["media"]["sequenceNumber"]) == ("1", "2")
    assert first["media"]["timestamp"] == "0"
    assert base64.b64decode(first["media"]["payload"]) == pcm
    assert EXOTEL.media_packet_bytes % 320 == 0 and EXOTEL.media_packet_bytes >= 3200


async def test_outbound_media_is_paced_in_real_time():
    now = [100.0]
    slept: list[float] = []

    async def sleep(secs: float) -> None:
        slept.append(round(secs, 3))
        now[0] += secs

    serializer = ExotelMediaSerializer("MZ9", call_sid=CALL_SID, sample_rate=8000, encoding="pcm16", clock=lambda: now[0], sleep=sleep)
    chunk = OutputAudioRawFrame(b"\x00\x00" * 1600, 8000, 1)  # 200 ms
    stamps = [json.loads(await serializer.serialize(chunk))["media"]["timestamp"] for _ in range(4)]
    # Two chunks go at once (Exotel holds the next while one plays), then one per 200 ms.
    assert slept == [0.2, 0.2]
    assert stamps == ["0", "0", "200", "400"]
    await serializer.serialize(InterruptionFrame())  # a clear: Exotel drops what it holds
    await serializer.serialize(chunk)
    await serializer.serialize(chunk)
    assert slept == [0.2, 0.2]


async def test_a_mulaw_stream_is_carried_in_mulaw():
    mulaw_start = {**START, "start": {**START["start"], "media_format": {"encoding": "audio/x-mulaw", "sample_rate": "8000"}}}
    serializer = EXOTEL.media_serializer(EXOTEL.parse_media_start(mulaw_start), ACCOUNT)
    await serializer.setup(type("Setup", (), {"audio_in_sample_rate": 8000})())  # type: ignore[arg-type]
    pcm = (np.sin(np.arange(1600) / 5) * 8000).astype("<i2").tobytes()
    media = json.loads(await serializer.serialize(OutputAudioRawFrame(pcm, 8000, 1)))
    assert len(base64.b64decode(media["media"]["payload"])) == 1600  # one byte a sample
    frame = await serializer.deserialize(json.dumps({"event": "media", "media": {"payload": media["media"]["payload"]}}))
    assert frame is not None and len(frame.audio) == 3200


def test_the_connection_may_say_what_the_account_streams():
    fields = {"account_sid": SID, "api_key": "k", "api_token": "t", "subdomain": "api.exotel.com", "caller_id": "+918047361234"}
    assert ExotelCredentials.model_validate(fields | {"stream_encoding": "mulaw"}).stream_encoding == "mulaw"
    with pytest.raises(ValidationError, match="stream_encoding"):
        ExotelCredentials.model_validate(fields | {"stream_encoding": "alaw"})
    forced = account(dict(ACCOUNT.identifiers) | {"stream_encoding": "mulaw"}, dict(ACCOUNT.secrets))
    assert EXOTEL.media_serializer(EXOTEL.parse_media_start(START), forced).encoding == "mulaw"


# --- the ExoPhone list ----------------------------------------------------------------------------


def exophones_page(numbers: list[str], next_page: str | None) -> httpx.Response:
    items = [{"sid": f"sid{n[-4:]}", "phone_number": n} for n in numbers]
    body = {"page": 0, "page_size": 50, "next_page_uri": next_page, "incoming_phone_numbers": items}
    return httpx.Response(200, json=body)


def exotel_fields(caller_id: str) -> ExotelCredentials:
    return ExotelCredentials.model_validate(
        {"account_sid": SID, "api_key": "k", "api_token": "t", "subdomain": "api.in.exotel.com", "caller_id": caller_id}
    )


async def test_the_exophone_list_is_read_as_documented_across_pages():
    later = f"http://twilix.exotel.com/v2_beta/Accounts/{SID}/IncomingPhoneNumbers?Page=1&PageSize=50"
    carrier = answering(exophones_page(["+918000000001"], later), exophones_page(["08047361234"], None))
    async with carrier.client() as http:
        await EXOTEL.verify(exotel_fields("+918047361234"), http=http, endpoints=ENDPOINTS)
    _, second = carrier.sent
    # Page 2 is asked of the host we were given, never the host next_page_uri names.
    assert urlsplit(second.url).netloc == "api.in.exotel.com"
    assert parse_qs(urlsplit(second.url).query) == {"Page": ["1"], "PageSize": ["50"]}


async def test_a_caller_id_that_is_not_an_exophone_is_refused():
    carrier = answering(exophones_page(["+918000000001"], None))
    async with carrier.client() as http:
        with pytest.raises(ValidationFailed) as refused:
            await EXOTEL.verify(exotel_fields("+918047361234"), http=http, endpoints=ENDPOINTS)
    assert refused.value.field == "caller_id"


async def test_the_simulator_pages_its_exophone_list(sim):
    numbers = [f"+9180470{n:05d}" for n in range(60)]
    sim.add_account("exotel", account_sid="pagedexo", api_key="k", api_token="t", exophones=numbers)
    endpoints = dataclasses.replace(ENDPOINTS, exotel=sim.api_urls()["exotel"])
    credentials = ExotelCredentials.model_validate(
        {"account_sid": "pagedexo", "api_key": "k", "api_token": "t", "subdomain": "api.exotel.com", "caller_id": numbers[55]}
    )
    async with httpx.AsyncClient() as http:
        await EXOTEL.verify(credentials, http=http, endpoints=endpoints)
        listed = (await http.get(f"{endpoints.exotel}/v2_beta/Accounts/pagedexo/IncomingPhoneNumbers", auth=("k", "t"))).json()
    assert len(listed["incoming_phone_numbers"]) == 50 and listed["next_page_uri"].endswith("Page=1&PageSize=50")


# --- whole calls through the simulator ------------------------------------------------------------

FID_ACCOUNT = {"account_sid": "fidexotel", "api_key": "fid-key", "api_token": "fid-token"}
FID_CALLER = "+918047119999"


async def exotel_tenant(api, carrier_sim, **sim_options):  # type: ignore[no-untyped-def]
    """A partner whose Exotel connection is the simulator account ``fidexotel`` (its own, so the
    options set here reach no other test)."""
    carrier_sim.add_account("exotel", **FID_ACCOUNT, exophones=[FID_CALLER], **sim_options)
    tenant = await make_tenant(api, carrier_sim, ["exotel"])
    body = FID_ACCOUNT | {"subdomain": "api.in.exotel.com", "caller_id": FID_CALLER}
    configured = await api.put("/api/v2/config/telephony/exotel", json=body, headers=tenant.headers)
    assert configured.status_code == 200, configured.text
    return tenant, configured.json()["data"]


async def until(check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if (value := check()):
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.e2e
async def test_an_in_progress_callback_alone_does_not_answer_the_call(api, carrier_sim):
    tenant, _ = await exotel_tenant(api, carrier_sim)
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.slow_answer(60))
    call_id = await start_call(api, tenant, "exotel", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="exotel", timeout=15)
    # Exotel's ringing event says Status=in-progress (it has no ringing status); the platform took it.
    ringing = await until(
        lambda: [c for c in sim_call.callbacks if c.params.get("EventType") == "ringing" and c.status_code]
    )
    assert ringing[0].params["Status"] == "in-progress" and ringing[0].status_code == 200
    carrier_sim.caller_hangs_up(sim_call.call_id)  # the phone is put down before anyone answers
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await wait_for_status(api, tenant, call_id)
    assert call["answered_at"] is None and call["status"] != "completed", call


@pytest.mark.e2e
async def test_a_camel_case_start_is_accepted_and_answers_the_call(api, carrier_sim):
    tenant, _ = await exotel_tenant(api, carrier_sim, start_keys="camelCase")
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(4.0))
    call_id = await start_call(api, tenant, "exotel", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="exotel", timeout=15)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await wait_for_status(api, tenant, call_id)
    assert call["status"] == "completed" and call["answered_at"], call
    assert sim_call.first_agent_audio_at is not None  # the agent spoke on the stream it accepted
    # Its media went out as Exotel's bots send it, in chunks Exotel's rule allows.
    assert not sim_call.media_violations, sim_call.media_violations
    assert not [note for note in sim_call.notes if "stream_sid" in note], sim_call.notes


@pytest.mark.e2e
async def test_a_mulaw_account_hears_the_agent(api, carrier_sim):
    tenant, _ = await exotel_tenant(api, carrier_sim, stream_encoding="mulaw")
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(4.0))
    call_id = await start_call(api, tenant, "exotel", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="exotel", timeout=15)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await wait_for_status(api, tenant, call_id)
    assert call["status"] == "completed", call
    assert heard_speech_secs(sim_call) >= 1.0  # intelligible (not noise) agent speech
    assert not sim_call.media_violations, sim_call.media_violations


@pytest.mark.e2e
async def test_legs_answered_by_machine_marks_the_call_answered_by_a_machine(api, carrier_sim):
    tenant, _ = await exotel_tenant(api, carrier_sim, amd=True)  # Exotel's per-account AMD beta
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.voicemail(hangs_up_after_secs=3.0))
    call_id = await start_call(api, tenant, "exotel", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="exotel", timeout=15)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    call = await wait_for_status(api, tenant, call_id)
    assert [c.params.get("Legs[0][AnsweredBy]") for c in sim_call.callbacks if c.params.get("EventType") == "answered"] == ["MACHINE"]
    assert call["answered_by"] == "machine", call


@pytest.mark.e2e
async def test_voicebot_url_answers_the_stream_url_for_its_connections_call(api, carrier_sim):
    tenant, saved = await exotel_tenant(api, carrier_sim)
    voicebot = urlsplit(saved["voicebot_url"]).path
    config = (await api.get("/api/v2/config", headers=tenant.headers)).json()["data"]
    assert urlsplit(config["telephony"]["exotel"]["voicebot_url"]).path == voicebot
    assert "fid-token" not in json.dumps(saved) + json.dumps(config)
    # The operator sees it with the connection too, and still no identifier or secret.
    detail = (await api.get(f"/admin/v1/partners/{tenant.name}", headers=ADMIN)).json()["data"]
    [connection] = [c for c in detail["connections"] if c["provider"] == "exotel"]
    assert urlsplit(connection["voicebot_url"]).path == voicebot
    assert "fid-token" not in json.dumps(detail) and "fidexotel" not in json.dumps(detail)

    number = new_number()
    carrier_sim.set_scenario(number, Scenario.slow_answer(60))
    call_id = await start_call(api, tenant, "exotel", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="exotel", timeout=15)

    async def provider_call_id() -> str | None:
        return (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]["provider_call_id"]

    for _ in range(300):
        if await provider_call_id():
            break
        await asyncio.sleep(0.05)
    query = {"CallSid": sim_call.call_id, "CallFrom": number, "CallTo": FID_CALLER, "Direction": "outbound-dial"}

    # Another partner's Voicebot URL does not find this call; a wrong secret finds nothing at all.
    _, other_saved = await exotel_tenant(api, carrier_sim)
    assert (await api.get(urlsplit(other_saved["voicebot_url"]).path, params=query)).status_code == 404
    assert (await api.get(voicebot[:-4] + "AAAA", params=query)).status_code == 403

    answered = await api.get(voicebot, params=query)
    assert answered.status_code == 200, answered.text
    url = answered.json()["url"]
    assert url.startswith("ws") and f"/media/exotel/{call_id}?" in url and "token=" in url
    assert (await api.get(voicebot, params=query)).status_code == 409  # served once: it holds a token
    carrier_sim.caller_hangs_up(sim_call.call_id)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
