"""/readyz follows the node's drain; /metrics is the operator's (admin token) unless
CALLWRIGHT_METRICS_PUBLIC opens it."""

from __future__ import annotations

from tests.conftest import error_of


async def test_readyz_answers_503_once_the_node_drains(client, platform):
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["data"]["status"] == "ready"
    platform.draining = True
    draining = await client.get("/readyz")
    assert draining.status_code == 503
    assert error_of(draining)["reason"] == "draining"
    assert (await client.get("/healthz")).status_code == 200  # alive all the same


async def test_metrics_need_the_admin_token_unless_made_public(client, platform, partner, admin_headers):
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=partner.headers)).status_code == 401
    scraped = await client.get("/metrics", headers=admin_headers)
    assert scraped.status_code == 200
    assert "callwright_webhook_backlog 0.0" in scraped.text
    assert 'callwright_campaigns{status="running"} 0.0' in scraped.text
    platform.settings = platform.settings.model_copy(update={"metrics_public": True})
    assert (await client.get("/metrics")).status_code == 200
