"""``/metrics`` after a whole simulated call: the dial, the carrier's callbacks, the live call and
its end, the turn and frame timings and the store's counts are there, labelled by carrier and
outcome only, and moved by the call; never a phone number or a call id. Behind the admin token."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import (
    ADMIN,
    FAKE_ENGINE_FIELDS,
    after_the_intro,
    hang_up_after_the_reply,
    make_tenant,
    new_number,
    start_call,
    wait_for_status,
)
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

FAKE = FAKE_ENGINE_FIELDS


@pytest.fixture(scope="module")
def platform_settings() -> dict[str, object]:
    return {"fake_engines": True}  # instant engines: the caller's line is answered, and timed


async def _samples(api: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await api.get("/metrics", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


async def test_metrics_move_with_a_call_and_carry_no_number(
    api: httpx.AsyncClient, carrier_sim, receiver: WebhookReceiver
):
    refused = await api.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["success"] is False

    tenant = await make_tenant(api, carrier_sim, ["vobiz"], intro_message="Hi.", **FAKE)
    hook = await api.post(
        "/api/v2/config/webhooks", json={"label": "metrics", "url": receiver.url("/m")}, headers=tenant.headers
    )
    assert hook.status_code == 201, hook.text
    receiver.secrets.append(hook.json()["data"]["secret"])
    before = await _samples(api)
    number = new_number()
    # The caller lets the intro finish, is answered, and stays on the line until the live call
    # has been seen in a scrape (events, not a fixed 6 s that a loaded box could outlast).
    carrier_sim.set_scenario(number, after_the_intro("Yes, please tell me more about it."))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    await wait_for_status(api, tenant, call_id, {"in_progress"}, timeout=30)
    deadline = time.monotonic() + 60  # only a hang guard
    while True:
        during = await _samples(api)
        live = [key for key in during if key[0] == "callwright_active_calls" and ("carrier", "vobiz") in key[1]]
        if live and during[live[0]] >= 1:
            break
        assert not sim_call.ended.is_set() and time.monotonic() < deadline, "the live call was never counted"
        await asyncio.sleep(0.1)
    await hang_up_after_the_reply(carrier_sim, sim_call)
    await carrier_sim.wait_for_call_end(sim_call.call_id, timeout=30)
    await wait_for_status(api, tenant, call_id)
    await receiver.wait_for(1, path="/m", event="session.completed", timeout=30)
    after = await _samples(api)

    assert _value(after, "callwright_dials_total", carrier="vobiz") == _value(
        before, "callwright_dials_total", carrier="vobiz"
    ) + 1
    callbacks = "callwright_carrier_callback_seconds_count"
    assert _value(after, callbacks, carrier="vobiz") > _value(before, callbacks, carrier="vobiz")
    # Live while the call was up, back down once it ended (labels: node and carrier only).
    (active_key,) = [key for key in during if key[0] == "callwright_active_calls" and ("carrier", "vobiz") in key[1]]
    assert {name for name, _ in active_key[1]} == {"node", "carrier"}
    assert during[active_key] >= 1
    assert after[active_key] == during[active_key] - 1
    ended = "callwright_calls_ended_total"
    assert _value(after, ended, carrier="vobiz", reason="caller_hung_up") == _value(
        before, ended, carrier="vobiz", reason="caller_hung_up"
    ) + 1
    turns = "callwright_turn_latency_seconds_count"
    assert _value(after, turns, carrier="vobiz") > _value(before, turns, carrier="vobiz")
    gaps = "callwright_agent_frame_gap_seconds_count"
    assert _value(after, gaps) > _value(before, gaps)
    delivered = "callwright_webhook_delivery_seconds_count"
    # The sender records the delivery just after the receiver has it: a scrape may come between.
    for _ in range(50):
        if _value(after, delivered, outcome="delivered") > _value(before, delivered, outcome="delivered"):
            break
        await asyncio.sleep(0.1)
        after = await _samples(api)
    assert _value(after, delivered, outcome="delivered") > _value(before, delivered, outcome="delivered")
    # The store's counts are there, whatever their values.
    assert ("callwright_webhook_backlog", ()) in after
    assert ("callwright_campaign_contacts", (("state", "pending"),)) in after

    text = (await api.get("/metrics", headers=ADMIN)).text
    digits = re.sub(r"\D", "", number)
    assert digits not in re.sub(r"[^\d\n]", "", text).splitlines()  # no label is the number
    assert number not in text and call_id not in text and sim_call.call_id not in text
