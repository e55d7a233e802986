"""The dialer against the simulated carrier: pacing per carrier account, and retries only where
the carrier certainly did not act (never a second dial of the same call)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from callwright.domain.pacing import max_in_any_window
from callwright.sim import Scenario
from callwright.store.db import create_engine, session_factory
from callwright.store.models import CallEventRow
from tests.e2e.helpers import ADMIN, make_tenant, new_number, start_call, wait_for_status

pytestmark = pytest.mark.e2e


async def test_dials_to_one_account_never_exceed_its_cps(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["vobiz"])
    paced = await api.patch(
        f"/admin/v1/partners/{tenant.name}/connections/vobiz", json={"cps": 2}, headers=ADMIN
    )
    assert paced.status_code == 200, paced.text
    numbers = [new_number() for _ in range(7)]
    for number in numbers:
        carrier_sim.set_scenario(number, Scenario.busy(ring_secs=0.1))
    ids = await asyncio.gather(*(start_call(api, tenant, "vobiz", n) for n in numbers))
    await asyncio.gather(*(wait_for_status(api, tenant, i) for i in ids))
    dial_times = [carrier_sim.calls(to=n)[-1].t0 for n in numbers]
    assert len(dial_times) == 7
    assert max_in_any_window(dial_times) <= 2
    # …and the dials were not held back for long: 7 at 2/s take about 3.3 s (a loaded box, more;
    # the bound leaves it seconds of lag and still refuses a pacer holding each dial a window).
    assert max(dial_times) - min(dial_times) < 15.0


async def test_an_ambiguous_carrier_error_is_not_retried(api, carrier_sim):
    tenant = await make_tenant(api, carrier_sim, ["twilio"])
    carrier_sim.clear_requests()
    carrier_sim.inject_fault("twilio", status=500, count=1)
    number = new_number()
    call_id = await start_call(api, tenant, "twilio", number)
    call = await wait_for_status(api, tenant, call_id)
    assert call["status"] == "failed"
    assert "500" in call["end_reason"]
    dials = [r for r in carrier_sim.requests("twilio") if r.method == "POST" and r.path.endswith("/Calls.json")]
    assert len(dials) == 1
    assert carrier_sim.calls(to=number) == []


async def test_every_transition_is_stored_with_the_carriers_payload(api, carrier_sim, platform_server):
    tenant = await make_tenant(api, carrier_sim, ["plivo"])
    number = new_number()
    carrier_sim.set_scenario(number, Scenario.caller_hangs_up_after(1.0))
    call_id = await start_call(api, tenant, "plivo", number)
    await wait_for_status(api, tenant, call_id)
    engine = create_engine(platform_server.settings.resolved_database_url)
    try:
        async with session_factory(engine)() as session:
            rows = list(
                await session.scalars(
                    select(CallEventRow).where(CallEventRow.call_id == call_id).order_by(CallEventRow.created_at)
                )
            )
    finally:
        await engine.dispose()
    changes = [(r.kind, r.source, r.status_before, r.status_after) for r in rows if r.status_before != r.status_after]
    assert changes[0] == ("created", "api", None, "pending")
    assert changes[-1][3] == "completed"
    statuses = [c[3] for c in changes]
    assert statuses.index("in_progress") < statuses.index("completed")
    hangup = next(r for r in rows if r.status_after == "completed" and r.source == "carrier")
    assert hangup.payload["Event"] == "Hangup"
    assert hangup.payload["HangupCause"]
    for row in rows:  # no secret in any stored payload
        assert "plivo-e2e-token" not in str(row.payload)
