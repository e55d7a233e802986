"""PUT /config/telephony/{provider} when the carrier throttles (429) or does not answer in time:
a 502 in the error envelope naming the carrier, and the credentials stored before stay in use.

Carriers are the carrier simulator, reached over real HTTP.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from callwright.services.telephony import open_secrets
from callwright.store.models import TelephonyConnection
from tests.conftest import error_of

OLD = {"auth_id": "MA_FAULTOLD1", "auth_token": "old-token-1234567", "from_number": "+918011223344"}
NEW = {"auth_id": "MA_FAULTNEW1", "auth_token": "new-token-7654321", "from_number": "+919876543210"}


@pytest.fixture
def settings(settings, sim):
    """Vobiz at the simulator, with a client timeout short enough for a slow-carrier test."""
    return settings.model_copy(
        update={"vobiz_api_url": sim.api_urls()["vobiz"], "carrier_timeout_secs": 0.5}
    )


@pytest.fixture
async def configured(client, partner, sim):  # type: ignore[no-untyped-def]
    sim.add_account("vobiz", auth_id=OLD["auth_id"], auth_token=OLD["auth_token"])
    sim.add_account("vobiz", auth_id=NEW["auth_id"], auth_token=NEW["auth_token"])
    response = await client.put("/api/v2/config/telephony/vobiz", json=OLD, headers=partner.headers)
    assert response.status_code == 200, response.text


async def _stored(platform, partner_id: str) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    async with platform.sessions() as session:
        connection = await session.scalar(
            select(TelephonyConnection).where(
                TelephonyConnection.partner_id == partner_id, TelephonyConnection.provider == "vobiz"
            )
        )
        return connection.identifiers["auth_id"], open_secrets(connection, secretbox=platform.secretbox)


async def test_throttled_verification_is_502_and_keeps_the_old_credentials(
    client, partner, sim, platform, configured
):
    sim.inject_fault("vobiz", status=429, count=1, retry_after_secs=3)
    response = await client.put("/api/v2/config/telephony/vobiz", json=NEW, headers=partner.headers)
    assert response.status_code == 502
    error = error_of(response)
    assert error["reason"] in ("carrier_rejected", "carrier_unavailable")
    assert "Vobiz" in error["message"] and "429" in error["message"]
    assert NEW["auth_token"] not in response.text
    assert await _stored(platform, partner.id) == (OLD["auth_id"], {"auth_token": OLD["auth_token"]})
    # Once the carrier lets us through, the same request succeeds.
    again = await client.put("/api/v2/config/telephony/vobiz", json=NEW, headers=partner.headers)
    assert again.status_code == 200, again.text
    assert (await _stored(platform, partner.id))[0] == NEW["auth_id"]


async def test_verification_timeout_is_502_and_keeps_the_old_credentials(
    client, partner, sim, platform, configured
):
    sim.inject_fault("vobiz", delay_secs=1.5, count=1)  # three times the client's timeout
    seen = len(sim.requests("vobiz"))
    response = await client.put("/api/v2/config/telephony/vobiz", json=NEW, headers=partner.headers)
    assert response.status_code == 502
    error = error_of(response)
    assert error["reason"] == "carrier_unavailable"
    assert error["message"] == "Vobiz did not answer in time"
    assert await _stored(platform, partner.id) == (OLD["auth_id"], {"auth_token": OLD["auth_token"]})
    # Let the held request finish, so no later test meets it.
    deadline = time.monotonic() + 5
    while len(sim.requests("vobiz")) == seen:  # the simulator logs a request once answered
        assert time.monotonic() < deadline
        time.sleep(0.05)
