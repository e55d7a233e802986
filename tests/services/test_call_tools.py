"""Which calls offer the opt_out tool, and whose number it suppresses."""

from __future__ import annotations

from callwright.domain.agent_spec import AgentSpec
from callwright.services.call_tools import callee_number, opt_out_offered
from callwright.store.models import Call


def _call(**fields) -> Call:
    return Call(direction="outbound", from_number="+918011223344", to_number="+919876543210", **fields)


def test_campaign_calls_always_offer_opt_out_other_calls_when_the_agent_asks():
    assert opt_out_offered(_call(campaign_id="c1"), AgentSpec())
    assert not opt_out_offered(_call(), AgentSpec())
    assert opt_out_offered(_call(), AgentSpec(opt_out_enabled=True))
    scripted = AgentSpec.parse({"script": {"rules": [{"keywords": ["stop"], "reply": "Okay.", "opt_out": True}]}})
    assert opt_out_offered(_call(), scripted)


def test_the_callee_is_whom_an_outbound_call_rang_or_who_rang_in():
    assert callee_number(_call()) == "+919876543210"
    assert callee_number(Call(direction="inbound", from_number="+919800000001", to_number="+918011223344")) == "+919800000001"


async def test_a_pending_transfer_is_still_offered_to_the_session_a_settled_one_is_not(platform):
    """The partner's transfer request can be recorded (pending) between a stream's admission and
    its session's start; that session must still be able to carry it out. Once a transfer has
    run (the caller back with the agent after a busy human), it is not offered again."""
    from callwright.domain.transfers import (
        DialResult,
        TransferSource,
        TransferStatus,
        pending_record,
        settled_record,
    )
    from callwright.services.call_tools import actions_for_call

    agent = {"transfer_enabled": True, "transfer_number": "+14155550100"}
    pending = pending_record(to="+14155550100", source=TransferSource.API, requested_at="2026-12-07T00:00:00Z")
    busy = settled_record(pending, DialResult(TransferStatus.BUSY, "busy"), completed_at="2026-12-07T00:00:09Z")

    for transfer, offered in ((None, "+14155550100"), (pending, "+14155550100"), (busy, None)):
        call = _call(provider="plivo", agent=agent, transfer=transfer, partner_id="p1")
        actions = await actions_for_call(platform=platform, call=call)
        assert (actions.transfer_number if actions is not None else None) == offered, transfer
