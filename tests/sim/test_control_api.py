"""Driving the simulator from another process: scenarios, call records and recordings over /_sim,
and the ``callwright sim serve`` scenario file."""

from __future__ import annotations

import asyncio
import io
import json
import wave

import numpy as np
import pytest
import typer

from callwright.cli.sim import scenarios_from_file
from callwright.sim import Outcome, Scenario, Utterance
from callwright.sim.audio import tone
from tests.sim.agent_platform import AgentScript
from tests.sim.conftest import fresh_number

pytestmark = pytest.mark.e2e


async def test_a_remote_driver_sets_scenarios_and_reads_calls(dialer, agent_platform):
    control = f"{dialer.sim.base_url}/_sim"
    number = fresh_number()
    speech = Utterance.from_pcm(tone(350, 0.3).tobytes())
    scenario = Scenario.answer(speech, ring_secs=0.05, leading_silence_secs=0.2)
    body = scenario.model_dump(mode="json")
    put = await dialer.http.put(f"{control}/scenarios/{number}", json=body)
    assert put.status_code == 200
    listed = (await dialer.http.get(f"{control}/scenarios")).json()
    assert listed["by_number"][number.lstrip("+")]["utterances"][0]["pcm_base64"]

    tag = "remote-" + number.lstrip("+")
    agent_platform.scripts[tag] = AgentScript(tone_secs=0.5)
    call_id = await dialer.place("twilio", number, tag)
    (summary,) = (await dialer.http.get(f"{control}/calls", params={"to": number})).json()
    assert (summary["call_id"], summary["carrier"]) == (call_id, "twilio")

    while (await dialer.http.get(f"{control}/calls/{call_id}")).json()["media_started_at"] is None:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.8)  # the caller's 0.3 s tone, 0.2 s in, has been streamed
    hung_up = await dialer.http.post(f"{control}/calls/{call_id}/hangup")
    assert hung_up.status_code == 202
    wait = {"wait_for_end_secs": 5}
    details = (await dialer.http.get(f"{control}/calls/{call_id}", params=wait)).json()
    assert details["ended"] and details["end_reason"] == "callee_hung_up"
    kinds = [cb["kind"] for cb in details["callbacks"]]
    assert kinds == ["status", "status", "status", "answer", "status"]
    assert details["answer_document"].startswith("<Response><Connect>")
    assert details["agent_messages"][0]["event"] == "media"
    assert (await dialer.http.post(f"{control}/calls/{call_id}/hangup")).status_code == 409

    recording = await dialer.http.get(f"{control}/calls/{call_id}/recording.wav")
    with wave.open(io.BytesIO(recording.content), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    caller, agent = frames[:, 0], frames[:, 1]
    assert np.abs(caller[1600:4000]).max() > 3000  # the caller's tone, 0.2 s in
    assert np.abs(agent[:4000]).max() > 3000  # the agent's tone, from the start
    agent_only = await dialer.http.get(
        f"{control}/calls/{call_id}/recording.wav", params={"both_sides": "false"}
    )
    with wave.open(io.BytesIO(agent_only.content), "rb") as wav:
        assert wav.getnchannels() == 1

    assert (await dialer.http.get(f"{control}/calls/nope")).status_code == 404


def test_serve_reads_a_scenario_file(tmp_path):
    path = tmp_path / "scenarios.json"
    file = {"default": {"outcome": "busy"}, "+919876543210": {"outcome": "no_answer"}}
    path.write_text(json.dumps(file))
    scenarios = scenarios_from_file(path)
    assert scenarios[None].outcome is Outcome.BUSY
    assert scenarios["+919876543210"].outcome is Outcome.NO_ANSWER
    path.write_text(json.dumps({"default": {"outcome": "maybe"}}))
    with pytest.raises(typer.BadParameter, match="default: outcome"):
        scenarios_from_file(path)
