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
