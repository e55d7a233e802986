"""The carrier simulator: each carrier's real REST API, callbacks and media WebSocket, served
locally so Callwright runs unmocked.

``CarrierSimulator`` is the entry point for tests, the demo and benchmarks; ``callwright sim serve``
runs the same app in the foreground. ``Scenario`` says what the far end of a call does; ``SimCall``
is what the simulator recorded about one call.
"""

from __future__ import annotations

from callwright.sim.app import api_urls, create_sim_app
from callwright.sim.calls import CallbackRecord, EndReason, SimCall
from callwright.sim.outcome_mix import MixChoice, OutcomeMix
from callwright.sim.scenarios import DtmfPress, NetworkHold, Outcome, Scenario, Utterance
from callwright.sim.server import CarrierSimulator
from callwright.sim.state import Fault, RequestRecord, SimAccount, SimState, parse_account

__all__ = [
    "CallbackRecord",
    "CarrierSimulator",
    "DtmfPress",
    "EndReason",
    "Fault",
    "MixChoice",
    "NetworkHold",
    "Outcome",
    "OutcomeMix",
    "RequestRecord",
    "Scenario",
    "SimAccount",
    "SimCall",
    "SimState",
    "Utterance",
    "api_urls",
    "create_sim_app",
    "parse_account",
]
