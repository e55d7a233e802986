"""What the conformance modules share: an agent and an MCube account made the way a partner
would, calls moved through their life by the platform's own services, and the field maps that
several docs pages repeat."""

from __future__ import annotations

from typing import Any

from callwright.domain.calls import CallStatus, EventKind
from callwright.platform import Platform
from tests.connection_rows import add_connection
from tests.webhook_support import carrier_says, ended, event, media_ends, media_starts

API = "/api/v2"

# A transcript turn and the latency summary, as get-call-details and the webhook payload give them.
TURN = {"role": "string", "content": "string", "timestamp": "datetime", "latency_ms": "integer|null"}
LATENCY = {"min_ms": "integer", "max_ms": "integer", "avg_ms": "number"}
# A webhook endpoint, as create-a-webhook-endpoint returns it (less the secret shown once).
WEBHOOK_ENDPOINT = {
    "id": "string", "label": "string", "url": "string", "enabled": "boolean",
    "last_delivery_at": "datetime|null", "last_delivery_status": "string|null",
    "created_at": "datetime", "updated_at": "datetime",
}  # fmt: skip


async def docs_agent(client: Any, partner: Any) -> str:
    """A minimal agent declaring the pre-call variable the docs' start example fills."""
    body = {"agent_name": "Sales Assistant", "prompt": "You help {{callee_name}} choose a plan.",
            "variables": ["callee_name"]}  # fmt: skip
    response = await client.post(f"{API}/agent", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def mcube_account(platform: Platform, partner_id: str) -> None:
    """MCube configured, so the docs' examples (provider mcube, the default) can start calls."""
    await add_connection(platform, partner_id, "mcube", {"exe_number": "9876543210"}, {"jwt_token": "jwt"})


async def start_call(client: Any, partner: Any, agent_id: str, to: str = "+919876543210") -> dict[str, Any]:
    body = {"agent_id": agent_id, "to_number": to, "provider": "mcube", "variables": {"callee_name": "Asha"}}
    response = await client.post(f"{API}/calls/start", json=body, headers=partner.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def talk_and_hang_up(platform: Platform, call_id: str) -> None:
    """Answered, a conversation on the media socket, the carrier's hang-up, then the media's end:
    a call whose post-call processing is complete."""
    await carrier_says(platform, call_id, event(EventKind.RINGING), event(EventKind.ANSWERED))
    await media_starts(platform, call_id)
    await carrier_says(platform, call_id, ended())
    await media_ends(platform, call_id)


async def fail(platform: Platform, call_id: str) -> None:
    await carrier_says(
        platform, call_id, event(EventKind.ENDED, outcome=CallStatus.FAILED, hangup_cause="No route to destination")
    )
