"""A partner's custom functions: create, list, get, update, delete, and the agents' attachments.

Header values are sealed with the secret box, bound to the partner and the function; responses
carry only ``header_keys``. The URL passes the one SSRF guard at registration and again at
every request (``services.function_calls``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain import functions as rules
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.errors import Conflict, NotFound, ValidationFailed
from callwright.domain.webhook_urls import UrlPolicy, UrlRefused
from callwright.services.agent_links import detach_from_agents
from callwright.services.webhook_outbox import iso_utc
from callwright.services.webhook_targets import validate_url
from callwright.store.models import AgentFunction, Function, Partner, new_id
from callwright.store.secretbox import SecretBox


@dataclass(frozen=True, slots=True)
class FunctionFields:
    """A create body, or the fields an update sent (None: unchanged)."""

    name: str | None = None
    description: str | None = None
    url: str | None = None
    headers: list[tuple[str, str]] | None = None
    input_schema: list[dict[str, Any]] | None = None
    output_schema: list[dict[str, Any]] | None = None
    timeout: int | None = None
    started_messages: list[str] | None = None
    error_message: str | None = None
    error_message_sent: bool = False  # an update that sent error_message (null clears it)


def function_view(function: Function) -> dict[str, Any]:
    """A function as partners see it: header keys, never their values."""
    return {
        "id": function.id,
        "name": function.name,
        "description": function.description,
        "method": rules.METHOD,
        "url": function.url,
        "header_keys": list(function.header_keys or []),
        "input_schema": list(function.input_schema or []),
        "output_schema": list(function.output_schema or []),
        "timeout": function.timeout_secs,
        "started_messages": list(function.started_messages or []),
        "error_message": function.error_message,
        "created_at": iso_utc(function.created_at),
        "updated_at": iso_utc(function.updated_at),
    }


def open_headers(function: Function, *, secretbox: SecretBox) -> dict[str, str]:
    opened = secretbox.open(function.sealed_headers, context=rules.seal_context(function.partner_id, function.id))
    return dict(opened["headers"])


def _seal_headers(function: Function, headers: Sequence[tuple[str, str]], secretbox: SecretBox) -> None:
    function.header_keys = [key for key, _ in headers]
    function.sealed_headers = secretbox.seal(
        {"headers": dict(headers)}, context=rules.seal_context(function.partner_id, function.id)
    )


async def checked_url(url: str, policy: UrlPolicy) -> str:
    try:
        await validate_url(url, policy)
    except UrlRefused as exc:
        raise ValidationFailed("url", exc.reason) from None
    return url


def _check(fields: FunctionFields) -> None:
    if fields.name is not None and (why := rules.name_problem(fields.name)) is not None:
        raise ValidationFailed("name", f"name {why}")
    if fields.headers is not None and (why := rules.header_problems([k for k, _ in fields.headers])):
        raise ValidationFailed("headers", f"headers {why}")
    for field_name in ("input_schema", "output_schema"):
        schema = getattr(fields, field_name)
        if schema is not None and (why := rules.schema_problem(schema)) is not None:
            raise ValidationFailed(field_name, f"{field_name} {why}")


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a function named {name!r} already exists on this account", code="function_name_taken")


async def create_function(
    *, session: AsyncSession, partner: Partner, fields: FunctionFields, secretbox: SecretBox, policy: UrlPolicy
) -> Function:
    _check(fields)
    assert fields.name is not None and fields.description is not None and fields.url is not None
    await checked_url(fields.url, policy)
    partner_id = partner.id
    # Serialise creations per partner so the limit holds (as webhook endpoints do).
    await session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())
    count = await session.scalar(select(func.count()).select_from(Function).where(Function.partner_id == partner_id))
    if (count or 0) >= rules.FUNCTIONS_PER_PARTNER_MAX:
        raise Conflict(
            f"at most {rules.FUNCTIONS_PER_PARTNER_MAX} functions per account; delete one before adding another",
            code="function_limit_reached",
        )
    function = Function(
        id=new_id(),
        partner_id=partner_id,
        name=fields.name,
        description=fields.description,
        url=fields.url,
        input_schema=fields.input_schema or [],
        output_schema=fields.output_schema or [],
        timeout_secs=fields.timeout or rules.TIMEOUT_DEFAULT_SECS,
        started_messages=fields.started_messages or [],
        error_message=fields.error_message,
    )
    _seal_headers(function, fields.headers or [], secretbox)
    session.add(function)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise _name_taken(fields.name) from None
    return function


async def list_functions(
    *, session: AsyncSession, partner: Partner, limit: int, offset: int
) -> tuple[list[Function], int]:
    query = select(Function).where(Function.partner_id == partner.id)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(Function.created_at, Function.id).limit(limit).offset(offset))
    return list(rows), total


async def get_function(*, session: AsyncSession, partner: Partner, function_id: str) -> Function:
    function = await session.scalar(
        select(Function).where(Function.id == function_id, Function.partner_id == partner.id)
    )
    if function is None:
        raise NotFound(f"no function with id {function_id!r}", code="function_not_found")
    return function


async def update_function(
    *,
    session: AsyncSession,
    partner: Partner,
    function_id: str,
    fields: FunctionFields,
    secretbox: SecretBox,
    policy: UrlPolicy,
) -> Function:
    """Change the fields sent. ``headers``, when sent, replaces every header."""
    _check(fields)
    function = await get_function(session=session, partner=partner, function_id=function_id)
    if fields.url is not None:
        function.url = await checked_url(fields.url, policy)
    for attribute, value in (
        ("name", fields.name),
        ("description", fields.description),
        ("input_schema", fields.input_schema),
        ("output_schema", fields.output_schema),
        ("timeout_secs", fields.timeout),
        ("started_messages", fields.started_messages),
    ):
        if value is not None:
            setattr(function, attribute, value)
    if fields.error_message_sent:
        function.error_message = fields.error_message
    if fields.headers is not None:
        _seal_headers(function, fields.headers, secretbox)
    name = function.name
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise _name_taken(name) from None
    await session.refresh(function)
    return function


async def delete_function(*, session: AsyncSession, partner: Partner, function_id: str) -> str:
    """Delete it and detach it from every agent that had it."""
    function = await get_function(session=session, partner=partner, function_id=function_id)
    await detach_from_agents(
        session, partner_id=partner.id, resource_id=function.id, link_agent_id=AgentFunction.agent_id,
        link_resource_id=AgentFunction.function_id, settings_key="function_ids",
    )
    await session.delete(function)
    await session.commit()
    return function_id


async def check_attachable(*, session: AsyncSession, partner_id: str, function_ids: Sequence[str]) -> None:
    """Every id names one of the partner's functions (else 400 naming ``function_ids``)."""
    if len(function_ids) > rules.FUNCTIONS_PER_AGENT_MAX:
        raise ValidationFailed("function_ids", f"function_ids must hold at most {rules.FUNCTIONS_PER_AGENT_MAX} ids")
    if len(set(function_ids)) != len(function_ids):
        raise ValidationFailed("function_ids", "function_ids must not repeat an id")
    found = set(
        await session.scalars(
            select(Function.id).where(Function.partner_id == partner_id, Function.id.in_(list(function_ids)))
        )
    )
    missing = [i for i in function_ids if i not in found]
    if missing:
        raise ValidationFailed("function_ids", f"function_ids names no function of this account: {missing[0]}")


async def check_script_functions(*, session: AsyncSession, partner_id: str, spec: AgentSpec) -> None:
    """Each scripted rule's ``function`` names one of the agent's attached functions."""
    wanted = {rule.function for rule in (spec.script.rules if spec.script else ()) if rule.function}
    if not wanted:
        return
    names = set(
        await session.scalars(
            select(Function.name).where(Function.partner_id == partner_id, Function.id.in_(list(spec.function_ids)))
        )
    )
    for name in sorted(wanted - names):
        raise ValidationFailed("script", f"script rule function {name!r} is not one of the agent's function_ids")


async def attach(*, session: AsyncSession, agent_id: str, function_ids: Sequence[str]) -> None:
    """Make the link rows match the agent's ``function_ids`` (in the caller's transaction)."""
    await session.execute(delete(AgentFunction).where(AgentFunction.agent_id == agent_id))
    for function_id in function_ids:
        session.add(AgentFunction(agent_id=agent_id, function_id=function_id))
