"""The carrier simulator: each carrier's real REST API, served locally so Callwright runs unmocked.

``CarrierSimulator`` is the entry point for tests, the demo and benchmarks; ``callwright sim serve``
runs the same app in the foreground.
"""

from __future__ import annotations

from callwright.sim.app import api_urls, create_sim_app
from callwright.sim.server import CarrierSimulator
from callwright.sim.state import Fault, RequestRecord, SimAccount, SimState, parse_account

__all__ = [
    "CarrierSimulator",
    "Fault",
    "RequestRecord",
    "SimAccount",
    "SimState",
    "api_urls",
    "create_sim_app",
    "parse_account",
]
