"""Partner config: ``GET /config`` and ``PUT /config/telephony/{provider}``."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep, provider_from_path
from callwright.api.envelope import error_responses, ok
from callwright.services import config as config_service
from callwright.services import exotel_voicebot, telephony

router = APIRouter(tags=["config"])

_CONFIG_EXAMPLE = {
    "success": True,
    "data": {
        "name": "acme-corp",
        "display_name": "Acme Corp",
        "status": "active",
        "agent_limit": 50,
        "current_agent_count": 1,
        "allowed_telephony_providers": ["twilio", "vobiz"],
        "allowed_languages": ["en"],
        "allowed_voices": ["piper-joe-us"],
        "concurrency": {"limit": 10, "active": 0},
        "webhook": {"configured": False, "url": None},
        "webhooks": [],
        "telephony": {
            "twilio": {"configured": False, "account_sid": None, "from_number": None},
            "mcube": {"configured": False, "exe_number": None},
            "exotel": {
                "configured": False,
                "account_sid": None,
                "subdomain": None,
                "caller_id": None,
                "applet_id": None,
            },
            "plivo": {"configured": False, "auth_id": None, "from_number": None},
            "vobiz": {"configured": True, "auth_id": "conf****ured", "from_number": "+918011223344"},
        },
        "credits": 1250.5,
    },
}

_TELEPHONY_EXAMPLES = {
    "vobiz": {
        "summary": "Vobiz",
        "value": {"auth_id": "MA_XXXXXXXX", "auth_token": "your-auth-token", "from_number": "+918011223344"},
    },
    "plivo": {
        "summary": "Plivo",
        "value": {
            "auth_id": "MAXXXXXXXXXXXXXXXXXX",
            "auth_token": "your-auth-token",
            "from_number": "+14155550100",
        },
    },
    "twilio": {
        "summary": "Twilio",
        "value": {
            "account_sid": "AC" + "0" * 32,
            "auth_token": "your-auth-token",
            "from_number": "+14155550100",
        },
    },
    "exotel": {
        "summary": "Exotel",
        "value": {
            "account_sid": "acme1",
            "api_key": "your-api-key",
            "api_token": "your-api-token",
            "subdomain": "api.in.exotel.com",
            "caller_id": "+918047112345",
            "applet_id": "123456",
        },
    },
    "mcube": {"summary": "MCube", "value": {"jwt_token": "your-jwt", "exe_number": "9876543210"}},
}


@router.get(
    "/config",
    summary="Get the partner's configuration",
    description="Limits, allowed providers and voices, the ₹ balance (`credits`), and every "
    "carrier's configuration state. "
    "Configured account identifiers are shown only as `conf****ured`; secrets never appear.",
    responses={200: {"content": {"application/json": {"example": _CONFIG_EXAMPLE}}}}
    | error_responses(401),
)
async def get_config(partner: CurrentPartner, session: SessionDep, platform: PlatformDep) -> dict[str, Any]:
    links = partial(exotel_voicebot.connection_links, platform)
    return ok(await config_service.partner_config(session=session, partner=partner, links=links))


@router.put(
    "/config/telephony/{provider}",
    summary="Set or replace a carrier's credentials",
    description="Validates the fields, verifies them against the carrier's own API, then stores the "
    "secrets encrypted. Re-sending replaces them. MCube has no credential check: its credentials "
    "are stored unverified and the response says so.",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "success": True,
                        "data": {
                            "auth_id": "MA_X****XXXX",
                            "from_number": "+918011223344",
                            "message": "Vobiz credentials updated successfully.",
                        },
                    }
                }
            }
        }
    }
    | error_responses(400, 401, 404, 502),
)
async def put_telephony(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    provider: Annotated[str, Path(description="twilio, plivo, vobiz, exotel or mcube")],
    body: Annotated[dict[str, Any], Body(openapi_examples=_TELEPHONY_EXAMPLES)],
) -> dict[str, Any]:
    parsed = provider_from_path(provider)
    data = await telephony.configure(
        session=session,
        partner=partner,
        provider=parsed,
        body=body,
        secretbox=platform.secretbox,
        http=platform.http,
        endpoints=platform.endpoints,
        links=partial(exotel_voicebot.connection_links, platform),
    )
    return ok(data)
