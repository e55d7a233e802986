"""A carrier's own callbacks, captured off the wire and sent again (issue 21 §2): the simulator
records every request it made to the platform, headers included, which is what an attacker on
the path would hold. Replayed with their signature headers, with any body, they change nothing."""

from __future__ import annotations

import pytest

from callwright.sim import Scenario
from tests.e2e.helpers import make_tenant, new_number, start_call, wait_for_status

pytestmark = pytest.mark.e2e


async def test_vobiz_callbacks_captured_from_a_live_call_are_spent(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"])
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.answer())  # stays up until the platform ends it
    call_id = await start_call(api, tenant, "vobiz", number)
    before = await wait_for_status(api, tenant, call_id, {"in_progress"})
    sim_call = carrier_sim.calls(to=number)[-1]
    [answer] = sim_call.callbacks_of("answer")
    assert answer.status_code == 200 and f"/media/vobiz/{call_id}/" in answer.body  # its document

    # Vobiz signs only the URL and a nonce: the captured answer request's headers, with a body
    # of the attacker's choosing (a voicemail verdict, another call, a hang-up).
    for body in (
        answer.params | {"Machine": "true", "Event": "MachineDetection"},
        answer.params | {"CallUUID": "forged-call-uuid"},
        answer.params | {"Event": "Hangup", "CallStatus": "busy", "HangupCause": "USER_BUSY"},
        answer.params,  # and the answer itself, for the media token
    ):
        replayed = await api.post(answer.url, data=body, headers=answer.headers)
        assert replayed.status_code == 403, replayed.text
        assert replayed.json()["error"]["reason"] == "replayed_callback"
        assert "token=" not in replayed.text

    after = (await api.get(f"/api/v2/calls/{call_id}", headers=tenant.headers)).json()["data"]
    assert (after["status"], after["provider_call_id"], after["disposition"], after["answered_by"]) == (
        "in_progress", before["provider_call_id"], None, before["answered_by"],
    )
    await api.post(f"/api/v2/calls/{call_id}/end", headers=tenant.headers)
    assert (await wait_for_status(api, tenant, call_id))["status"] == "completed"
