"""Custom functions (``/functions``): HTTP tools an agent's model may call during a call, and a
dry run of one (``/functions/{id}/test``). Attach them to an agent with its ``function_ids``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import Responses, error_responses, ok, ok_list
from callwright.api.path_ids import FunctionId
from callwright.api.schemas.functions import (
    FunctionCreateBody,
    FunctionTestBody,
    FunctionUpdateBody,
    fields_of,
)
from callwright.services import function_calls
from callwright.services import functions as function_service
from callwright.services.functions import FunctionFields
from callwright.services.webhook_targets import policy_for

router = APIRouter(tags=["functions"])

_FUNCTION = {
    "id": "f1234567-abcd-1234-abcd-123456789012",
    "name": "get_weather",
    "description": "Retrieve current weather for a city. Call this when the user asks about weather conditions.",
    "method": "POST",
    "url": "https://api.weather.example/v1/current",
    "header_keys": ["Authorization"],
    "input_schema": [{"name": "city", "type": "string", "description": "City name", "required": True}],
    "output_schema": [{"name": "temperature", "type": "number", "description": "Celsius", "required": True}],
    "timeout": 10,
    "started_messages": ["Checking the weather...", "Let me look that up..."],
    "error_message": "Sorry, I could not get the weather right now.",
    "created_at": "2026-12-06T10:30:00.000000Z",
    "updated_at": "2026-12-06T10:30:00.000000Z",
}
_TESTED = {
    "status": "ok", "status_code": 200, "latency_ms": 182, "result": {"temperature": 32, "condition": "Sunny"},
    "result_bytes": 40, "truncated": False, "error": None,
}


def _example(data: Any, status: int = 200) -> Responses:
    return {status: {"content": {"application/json": {"example": {"success": True, "data": data}}}}}


@router.post(
    "/functions",
    status_code=201,
    summary="Create a function",
    description="Header values are encrypted at rest and never returned: responses carry only "
    "`header_keys`. Calls are always POST with a JSON body of the model's arguments. Schema field "
    "types: string, number, boolean, string[], number[], custom (any JSON value). An input field "
    "named after one of the call's pre-call variables is filled from it, not by the model. In "
    "production the URL must be https to a public address (checked now and at every request).",
    responses=_example(_FUNCTION, 201) | error_responses(400, 401, 409),
)
async def create_function(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, body: FunctionCreateBody
) -> dict[str, Any]:
    function = await function_service.create_function(
        session=session, partner=partner, fields=FunctionFields(**fields_of(body)),
        secretbox=platform.secretbox, policy=policy_for(platform.settings),
    )
    return ok(function_service.function_view(function))


@router.get(
    "/functions",
    summary="List functions",
    responses=_example([_FUNCTION]) | error_responses(401),
)
async def list_functions(
    partner: CurrentPartner,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    rows, total = await function_service.list_functions(session=session, partner=partner, limit=limit, offset=offset)
    return ok_list([function_service.function_view(f) for f in rows], limit=limit, offset=offset, total=total)


@router.get(
    "/functions/{function_id}",
    summary="Get a function",
    responses=_example(_FUNCTION) | error_responses(401, 404),
)
async def get_function(partner: CurrentPartner, session: SessionDep, function_id: FunctionId) -> dict[str, Any]:
    function = await function_service.get_function(session=session, partner=partner, function_id=function_id)
    return ok(function_service.function_view(function))


@router.put(
    "/functions/{function_id}",
    summary="Update a function",
    description="Fields left out keep their value. `headers`, when sent, replaces every header "
    "(send them all again: values are never shown). `error_message: null` removes it. Calls "
    "already running keep the version they started with.",
    responses=_example(_FUNCTION) | error_responses(400, 401, 404, 409),
)
@router.patch("/functions/{function_id}", include_in_schema=False)
async def update_function(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    function_id: FunctionId,
    body: FunctionUpdateBody,
) -> dict[str, Any]:
    function = await function_service.update_function(
        session=session, partner=partner, function_id=function_id, fields=FunctionFields(**fields_of(body)),
        secretbox=platform.secretbox, policy=policy_for(platform.settings),
    )
    return ok(function_service.function_view(function))


@router.delete(
    "/functions/{function_id}",
    summary="Delete a function",
    description="It is detached from every agent that had it.",
    responses=_example({"id": _FUNCTION["id"], "deleted": True}) | error_responses(401, 404),
)
async def delete_function(partner: CurrentPartner, session: SessionDep, function_id: FunctionId) -> dict[str, Any]:
    deleted = await function_service.delete_function(session=session, partner=partner, function_id=function_id)
    return ok({"id": deleted, "deleted": True})


@router.post(
    "/functions/{function_id}/test",
    summary="Try a function (dry run)",
    description="Calls the function's URL once, as a call would (same body, headers, timeout and "
    "URL checks), with the `arguments` given and the pre-call `variables` given, and returns how it "
    "went: `status` (ok, error, timeout, refused), `status_code`, `latency_ms` and the answer "
    "(`result`, its JSON or text, at most 16 KB). No call is made and nothing is spoken.",
    responses=_example(_TESTED) | error_responses(400, 401, 404),
)
async def test_function(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, function_id: FunctionId, body: FunctionTestBody
) -> dict[str, Any]:
    function = await function_service.get_function(session=session, partner=partner, function_id=function_id)
    tool = function_calls.tool_of(function, secretbox=platform.secretbox)
    await session.commit()  # no transaction held open across the request
    outcome = await function_calls.invoke(
        platform.http, tool, arguments=body.arguments, variables=body.variables, policy=policy_for(platform.settings)
    )
    return ok({
        "status": outcome.status, "status_code": outcome.status_code, "latency_ms": outcome.latency_ms,
        "result": outcome.result, "result_bytes": outcome.result_bytes, "truncated": outcome.truncated,
        "error": outcome.error,
    })
