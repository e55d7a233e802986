"""The carrier simulator as fixtures: one server for the whole session, clean faults per test.

Also the seam for pointing an official carrier SDK (which uses ``requests``) at the simulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from callwright.sim import CarrierSimulator

# The hosts the official SDKs call; the simulator serves their paths under /{provider}/.
SDK_HOSTS = {
    "vobiz": "https://api.vobiz.ai/",
    "plivo": "https://api.plivo.com/",
    "twilio": "https://api.twilio.com/",
}


@pytest.fixture(scope="session")
def carrier_sim() -> Iterator[CarrierSimulator]:
    simulator = CarrierSimulator()
    with simulator.running():
        yield simulator


@pytest.fixture
def sim(carrier_sim: CarrierSimulator) -> CarrierSimulator:
    """The session's simulator with no faults queued, an empty request log and the default far end
    (every number answers); calls from earlier tests stay on record under their own ids."""
    carrier_sim.clear_faults()
    carrier_sim.clear_requests()
    carrier_sim.clear_scenarios()
    return carrier_sim


class _ToSimulator(requests.adapters.HTTPAdapter):
    def __init__(self, real_base: str, sim_base: str) -> None:
        super().__init__()
        self.real_base, self.sim_base = real_base, sim_base

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.url = (request.url or "").replace(self.real_base, self.sim_base, 1)
        return super().send(request, **kwargs)


def send_to_simulator(session: requests.Session, provider: str, sim: CarrierSimulator) -> None:
    """Point an SDK's ``session`` at the simulator; paths and headers stay the real ones."""
    real_base = SDK_HOSTS[provider]
    session.mount(real_base, _ToSimulator(real_base, f"{sim.base_url}/{provider}/"))
