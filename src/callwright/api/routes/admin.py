"""Operator API (``/admin/v1``), authenticated by ``CALLWRIGHT_ADMIN_TOKEN``.

The same powers as the ``callwright`` CLI: partners, their API keys, allowed providers, limits, the
operator-only switches on carrier connections, and master-key rotation.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from callwright.api.deps import AdminDep, PlatformDep, SessionDep, provider_from_path
from callwright.api.envelope import error_responses, ok, ok_list
from callwright.api.path_ids import KeyId, PartnerName
from callwright.api.schemas.admin import ApiKeyCreate, ConnectionSwitches, PartnerCreate, PartnerUpdate
from callwright.domain.errors import ValidationFailed
from callwright.domain.partners import parse_provider_list
from callwright.services import exotel_voicebot, master_keys, operator, partners

router = APIRouter(tags=["admin"], dependencies=[AdminDep])

ProviderName = Annotated[str, Path(description="twilio, plivo, vobiz, exotel or mcube")]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]

_PARTNER = {
    "partner_id": "6f1c2a9e-4b7d-4c1e-9a51-3f0e8d2b7c10",
    "name": "acme-corp",
    "display_name": "Acme Corp",
    "status": "active",
    "allowed_telephony_providers": ["twilio", "vobiz"],
    "concurrency_limit": 10,
    "agent_limit": 50,
    "requests_per_minute": 60,
    "calls_per_minute": 10,
    "created_at": "2026-11-24T06:10:00Z",
}
_KEY = {
    "key_id": "0b8e4f7a-2d51-4c3b-8f6e-1a9d7c5b3e20",
    "partner": "acme-corp",
    "display_prefix": "rg_live_Xy3Q",
    "mode": "live",
    "status": "active",
    "created_at": "2026-11-24T06:10:00Z",
    "revoked_at": None,
}
_CONNECTION = {
    "connection_id": "3c5d7e9f-1a2b-4c6d-8e0f-2b4d6f8a0c1e",
    "provider": "vobiz",
    "name": "Vobiz",
    "is_default": True,
    "status": "ACTIVE",
    "verified": True,
    "verified_at": "2026-11-24T06:12:00Z",
    "carrier_voicemail_detection": True,
    "cps": 5.0,
}


def _example(
    data: Any, status: int = 200, *errors: int, paginated: bool = False
) -> dict[int | str, Any]:
    body: dict[str, Any] = {"success": True, "data": data}
    if paginated:
        body["pagination"] = {"limit": 50, "offset": 0, "total": len(data)}
    return {status: {"content": {"application/json": {"example": body}}}} | error_responses(
        401, *errors
    )


@router.post(
    "/partners",
    status_code=201,
    summary="Create a partner and its first live API key",
    description="The API key is returned here once and stored only as a hash. "
    "Limits default to the platform's settings; no provider is allowed unless listed.",
    responses=_example(_PARTNER | {"key_id": _KEY["key_id"], "api_key": "rg_live_…"}, 201, 409),
)
async def create_partner(
    session: SessionDep, platform: PlatformDep, body: PartnerCreate
) -> dict[str, Any]:
    try:
        providers = parse_provider_list(body.allowed_telephony_providers)
    except ValidationFailed as exc:
        raise ValidationFailed(
            "allowed_telephony_providers",
            exc.message.replace("providers", "allowed_telephony_providers", 1),
        ) from None
    settings = platform.settings
    partner, key = await partners.create_partner(
        session=session,
        name=body.name,
        display_name=body.display_name,
        providers=providers,
        concurrency_limit=(
            settings.default_concurrency_limit
            if body.concurrency_limit is None
            else body.concurrency_limit
        ),
        agent_limit=settings.default_agent_limit if body.agent_limit is None else body.agent_limit,
        requests_per_minute=(
            settings.default_requests_per_minute
            if body.requests_per_minute is None
            else body.requests_per_minute
        ),
        calls_per_minute=(
            settings.default_calls_per_minute
            if body.calls_per_minute is None
            else body.calls_per_minute
        ),
    )
    return ok(partners.partner_summary(partner) | {"key_id": key.key_id, "api_key": key.api_key})


@router.get(
    "/partners",
    summary="List partners",
    responses=_example([_PARTNER], paginated=True),
)
async def list_partners(session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    rows, total = await operator.list_partners_page(session=session, limit=limit, offset=offset)
    return ok_list(
        [partners.partner_summary(p) for p in rows], limit=limit, offset=offset, total=total
    )


@router.get(
    "/partners/{name}",
    summary="Get a partner with its agent count, key count and carrier connections",
    responses=_example(
        _PARTNER | {"current_agent_count": 3, "active_api_keys": 1, "connections": [_CONNECTION]},
        200,
        404,
    ),
)
async def get_partner(session: SessionDep, platform: PlatformDep, name: PartnerName) -> dict[str, Any]:
    links = partial(exotel_voicebot.connection_links, platform)
    return ok(await operator.partner_detail(session=session, partner_name=name, links=links))


@router.patch(
    "/partners/{name}",
    summary="Change a partner's display name, status or limits",
    description="Send only the fields to change. A suspended partner's API keys answer 403. "
    "`requests_per_minute` and `calls_per_minute` are each API key's budgets (0 = no limit); "
    "a change applies to the key's next request.",
    responses=_example(_PARTNER | {"status": "suspended", "concurrency_limit": 20}, 200, 404),
)
async def update_partner(
    session: SessionDep, name: PartnerName, body: PartnerUpdate
) -> dict[str, Any]:
    if not body.model_fields_set:
        raise ValidationFailed(
            "body",
            "send at least one of display_name, status, concurrency_limit, agent_limit, "
            "requests_per_minute, calls_per_minute",
        )
    partner = await partners.update_partner(
        session=session,
        partner_name=name,
        display_name=body.display_name,
        status=body.status,
        concurrency_limit=body.concurrency_limit,
        agent_limit=body.agent_limit,
        requests_per_minute=body.requests_per_minute,
        calls_per_minute=body.calls_per_minute,
    )
    return ok(partners.partner_summary(partner))


@router.put(
    "/partners/{name}/providers/{provider}",
    summary="Allow a partner to call through a provider",
    responses=_example(_PARTNER, 200, 404),
)
async def allow_provider(
    session: SessionDep, name: PartnerName, provider: ProviderName
) -> dict[str, Any]:
    partner = await partners.set_provider_allowed(
        session=session, partner_name=name, provider=provider_from_path(provider), allowed=True
    )
    return ok(partners.partner_summary(partner))


@router.delete(
    "/partners/{name}/providers/{provider}",
    summary="Stop a partner calling through a provider",
    description="Stored credentials stay; new calls through the provider answer 403.",
    responses=_example(_PARTNER | {"allowed_telephony_providers": ["twilio"]}, 200, 404),
)
async def disallow_provider(
    session: SessionDep, name: PartnerName, provider: ProviderName
) -> dict[str, Any]:
    partner = await partners.set_provider_allowed(
        session=session, partner_name=name, provider=provider_from_path(provider), allowed=False
    )
    return ok(partners.partner_summary(partner))


@router.post(
    "/partners/{name}/keys",
    status_code=201,
    summary="Issue an API key",
    description="The key is returned here once and stored only as a hash.",
    responses=_example(
        {"key_id": _KEY["key_id"], "partner": "acme-corp", "api_key": "rg_test_…", "mode": "test"},
        201,
        404,
    ),
)
async def create_api_key(
    session: SessionDep,
    name: PartnerName,
    body: Annotated[ApiKeyCreate | None, Body()] = None,
) -> dict[str, Any]:
    key = await partners.create_api_key(
        session=session, partner_name=name, test_mode=bool(body and body.test)
    )
    return ok(
        {
            "key_id": key.key_id,
            "partner": key.partner_name,
            "api_key": key.api_key,
            "mode": "test" if key.test_mode else "live",
        }
    )


@router.get(
    "/partners/{name}/keys",
    summary="List a partner's API keys",
    description="Shows each key's display prefix only; a key itself is never shown again.",
    responses=_example([_KEY], 200, 404, paginated=True),
)
async def list_api_keys(
    session: SessionDep, name: PartnerName, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    keys = await partners.list_api_keys(session=session, partner_name=name)
    page = keys[offset : offset + limit]
    return ok_list(
        [operator.api_key_view(k, partner_name=name) for k in page],
        limit=limit,
        offset=offset,
        total=len(keys),
    )


@router.delete(
    "/keys/{key_id}",
    summary="Revoke an API key",
    description="Requests with the key answer 401 from now on. Revoking twice is harmless.",
    responses=_example(
        _KEY | {"status": "revoked", "revoked_at": "2026-11-25T09:00:00Z"}, 200, 404
    ),
)
async def revoke_api_key(session: SessionDep, key_id: KeyId) -> dict[str, Any]:
    view, _ = await operator.revoke_api_key(session=session, key_id=key_id)
    return ok(view)


@router.patch(
    "/partners/{name}/connections/{provider}",
    summary="Set the operator-only switches on a partner's carrier connection",
    description="`carrier_voicemail_detection` asks the carrier to detect answering machines; "
    "`cps` paces calls on this account (null: carrier default). 404 when the partner has not "
    "configured the provider.",
    responses=_example(_CONNECTION, 200, 404),
)
async def update_connection(
    session: SessionDep, platform: PlatformDep, name: PartnerName, provider: ProviderName, body: ConnectionSwitches
) -> dict[str, Any]:
    sent = body.model_fields_set
    if not sent:
        raise ValidationFailed("body", "send at least one of carrier_voicemail_detection, cps")
    connection = await operator.set_connection_switches(
        session=session,
        partner_name=name,
        provider=provider_from_path(provider),
        carrier_voicemail_detection=(
            body.carrier_voicemail_detection
            if body.carrier_voicemail_detection is not None
            else operator.KEEP
        ),
        cps=body.cps if "cps" in sent else operator.KEEP,
    )
    return ok(operator.connection_view(connection, links=partial(exotel_voicebot.connection_links, platform)))


@router.post(
    "/secrets/rotate",
    summary="Re-encrypt stored carrier credentials under the current master key",
    description="Set the new key as CALLWRIGHT_SECRET_KEY and the old one in "
    "CALLWRIGHT_PREVIOUS_SECRET_KEYS, restart, call this, then remove the old key. If any stored "
    "value opens with none of the configured keys, nothing changes and the answer is 409.",
    responses=_example({"resealed": 4, "already_current": 0, "key_id": "9f2c4e6a8b0d"}, 200, 409),
)
async def rotate_secrets(session: SessionDep, platform: PlatformDep) -> dict[str, Any]:
    result = await master_keys.rotate_master_key(session=session, secretbox=platform.secretbox)
    return ok(
        {
            "resealed": result.resealed,
            "already_current": result.already_current,
            "key_id": result.key_id,
        }
    )


_NODE = {
    "node_id": "5e0c8d1f2a3b4c6d8e9f0a1b2c3d4e5f",
    "name": "callwright-7d9f8b6c4-x2k5q",
    "pid": 17,
    "started_at": "2026-11-24T06:00:00.000Z",
    "heartbeat_at": "2026-11-24T06:10:00.512Z",
    "active_calls": 42,
    "draining": False,
    "dialer": True,
    "campaign_scheduler": False,
}


@router.get(
    "/nodes",
    summary="The cluster's nodes",
    description="Every platform process whose heartbeat is fresh (each worker of `--workers N` is "
    "one), from the node registry in Redis: its live calls, whether it drains, and whether it runs "
    "the dialer or the campaign scheduler. Without `CALLWRIGHT_REDIS_URL` there is no cluster: "
    "the list holds this process alone.",
    responses=_example([_NODE]),
)
async def list_nodes(platform: PlatformDep) -> dict[str, Any]:
    from callwright.services.node_registry import list_nodes as registry_nodes
    from callwright.services.node_registry import this_node

    redis = platform.control.redis
    if redis is None:
        return ok([this_node(platform).public()])
    nodes = await registry_nodes(redis, platform.settings.redis_namespace)
    return ok([node.public() for node in nodes])
