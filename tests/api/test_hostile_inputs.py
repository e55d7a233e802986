"""Hostile text and ids at the boundary, identically on SQLite and PostgreSQL (issue 21, item 5).

A NUL byte in a path id or a text field used to reach PostgreSQL (which refuses it: a 500), while
SQLite stored NUL, right-to-left overrides and zero-width characters in names. Every path id that
cannot name a resource is now a 404 without a query; every text field refuses control characters
(free text keeps tab and line breaks); names, labels and URLs refuse invisible bidi and zero-width
characters; every numeric query parameter is bounded. Each refusal is the 400 envelope naming the
field and the rule, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import event, func, select

from callwright.domain.call_tokens import TokenPurpose, call_token
from callwright.store.models import Base
from tests.conftest import error_of
from tests.connection_rows import add_call, add_connection
from tests.unreachable import unreachable_carriers

UUID = "6f1c2b8e-3d4a-4f5b-9c6d-7e8f9a0b1c2d"
NUL = "\x00"
# One hostile id per kind of character; each is an id that cannot exist.
BAD_IDS = {
    "nul": UUID[:-1] + NUL,
    "nul_only": NUL,
    "bell": UUID + "\x07",
    "rtl_override": "\u202e" + UUID,
    "zero_width": UUID + "\u200b",
    "not_an_id": "x" * 300,
}


@pytest.fixture
def settings(settings):
    return settings.model_copy(update=unreachable_carriers())


@contextmanager
def statements(platform) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the platform's engine runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    engine = platform.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _sent_to_db(seen: list[tuple[str, Any]], value: str) -> bool:
    return any(value in str(p) for _, parameters in seen for p in _flat(parameters))


def _flat(parameters: Any) -> Iterator[Any]:
    if isinstance(parameters, dict):
        parameters = parameters.values()
    elif not isinstance(parameters, (list, tuple)):
        yield parameters
        return
    for item in parameters:
        yield from _flat(item) if isinstance(item, (dict, list, tuple)) else [item]


async def row_counts(platform) -> dict[str, int]:
    async with platform.sessions() as session:
        return {
            table.name: await session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }


async def _send_json(client, method: str, path: str, body: Any, headers: dict[str, str]):
    # json.dumps escapes what UTF-8 cannot carry (an unpaired surrogate) as JSON allows: "\ud800".
    content = json.dumps(body).encode()
    return await client.request(
        method, path, content=content, headers=headers | {"Content-Type": "application/json"}
    )


def assert_refused(response, field: str, rule: str) -> None:
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["code"], error["reason"]) == ("VALIDATION_ERROR", "validation_error"), error
    fields = [d["field"] for d in error.get("details", [])]
    assert field in fields, error
    assert field in error["message"] and rule in error["message"], error


# --- path ids ------------------------------------------------------------------------------

PARTNER_ID_ROUTES = [
    ("GET", "/api/v2/agent/{id}", None, "agent_not_found"),
    ("PUT", "/api/v2/agent/{id}", {"prompt": "hello"}, "agent_not_found"),
    ("DELETE", "/api/v2/agent/{id}", None, "agent_not_found"),
    ("GET", "/api/v2/calls/{id}", None, "call_not_found"),
    ("POST", "/api/v2/calls/{id}/end", None, "call_not_found"),
    ("GET", "/api/v2/calls/{id}/recording-url", None, "call_not_found"),
    ("DELETE", "/api/v2/config/webhooks/{id}", None, "webhook_not_found"),
    ("POST", "/api/v2/config/webhooks/{id}/rotate-secret", None, "webhook_not_found"),
    ("GET", "/api/v2/config/webhooks/{id}/deliveries", None, "webhook_not_found"),
    ("POST", "/api/v2/webhook-deliveries/{id}/redeliver", None, "webhook_delivery_not_found"),
    ("PUT", "/api/v2/config/telephony/{id}", {"auth_token": "x"}, "unknown_provider"),
    ("PATCH", "/api/v2/config/webhooks/{id}", {"enabled": False}, "webhook_not_found"),
    ("GET", "/api/v2/projects/{id}", None, "project_not_found"),
    ("PUT", "/api/v2/projects/{id}", {"name": "Renamed"}, "project_not_found"),
    ("DELETE", "/api/v2/projects/{id}", None, "project_not_found"),
    ("GET", "/api/v2/sessions/{id}", None, "session_not_found"),
    ("GET", "/api/v2/functions/{id}", None, "function_not_found"),
    ("PUT", "/api/v2/functions/{id}", {"timeout": 5}, "function_not_found"),
    ("DELETE", "/api/v2/functions/{id}", None, "function_not_found"),
    ("POST", "/api/v2/functions/{id}/test", {}, "function_not_found"),
]
ADMIN_ID_ROUTES = [
    ("GET", "/admin/v1/partners/{id}", None, "partner_not_found"),
    ("PATCH", "/admin/v1/partners/{id}", {"status": "active"}, "partner_not_found"),
    ("PUT", "/admin/v1/partners/{id}/providers/vobiz", None, "partner_not_found"),
    ("DELETE", "/admin/v1/partners/{id}/providers/vobiz", None, "partner_not_found"),
    ("PUT", "/admin/v1/partners/acme-corp/providers/{id}", None, "unknown_provider"),
    ("POST", "/admin/v1/partners/{id}/keys", None, "partner_not_found"),
    ("GET", "/admin/v1/partners/{id}/keys", None, "partner_not_found"),
    ("DELETE", "/admin/v1/keys/{id}", None, "api_key_not_found"),
    ("PATCH", "/admin/v1/partners/{id}/connections/vobiz", {"cps": 1}, "partner_not_found"),
    ("PATCH", "/admin/v1/partners/acme-corp/connections/{id}", {"cps": 1}, "unknown_provider"),
    ("GET", "/admin/v1/partners/{id}/credits", None, "partner_not_found"),
    ("POST", "/admin/v1/partners/{id}/credits/top-ups", {"amount": "10"}, "partner_not_found"),
    ("PUT", "/admin/v1/partners/acme-corp/agents/{id}/rate", {"rate_per_minute": "1"}, "agent_not_found"),
    ("PUT", "/admin/v1/partners/acme-corp/projects/{id}/rate", {"rate_per_minute": "1"}, "project_not_found"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "reason"),
    PARTNER_ID_ROUTES + ADMIN_ID_ROUTES,
    ids=[f"{m} {p}" for m, p, _, _ in PARTNER_ID_ROUTES + ADMIN_ID_ROUTES],
)
async def test_an_id_that_cannot_exist_is_404_without_a_query(
    client, platform, partner, admin_headers, method, path, body, reason
):
    headers = admin_headers if path.startswith("/admin") else partner.headers
    before = await row_counts(platform)
    wrong = []
    for kind, bad in BAD_IDS.items():
        with statements(platform) as seen:
            response = await client.request(
                method, path.replace("{id}", quote(bad, safe="")), json=body, headers=headers
            )
        if response.status_code != 404 or error_of(response)["reason"] != reason:
            wrong.append(f"{kind}: {response.status_code} {response.text[:200]}")
        elif _sent_to_db(seen, bad):
            wrong.append(f"{kind}: the id reached the database")
    assert wrong == []
    assert await row_counts(platform) == before


@pytest.mark.parametrize("bad", ["nul", "rtl_override", "not_an_id"])
async def test_a_carrier_callback_for_an_id_that_cannot_exist_is_refused_without_a_query(
    client, platform, bad
):
    call_id = BAD_IDS[bad]
    token = call_token(platform.token_keys[0], call_id, TokenPurpose.CALLBACK)
    with statements(platform) as seen:
        response = await client.post(
            f"/telephony/exotel/{quote(call_id, safe='')}/status", params={"token": token}, data={"Status": "busy"}
        )
    assert response.status_code in (403, 404), response.text
    error_of(response)
    assert not _sent_to_db(seen, call_id)


@pytest.mark.parametrize("bad", ["nul", "rtl_override"])
async def test_a_recording_download_for_an_id_that_cannot_exist_is_refused(client, platform, bad):
    with statements(platform) as seen:
        response = await client.get(f"/recordings/{quote(BAD_IDS[bad], safe='')}.wav", params={"expires": "1", "sig": "x"})
    assert response.status_code in (403, 404), response.text
    error_of(response)
    assert not _sent_to_db(seen, BAD_IDS[bad])


async def _open_media_socket(app, path: str, query: str = "") -> dict[str, Any]:
    """Open a WebSocket on the ASGI app by hand; the first message the app sends back."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query.encode(),
        "headers": [(b"host", b"callwright.test")],
        "client": ("127.0.0.1", 5000),
        "server": ("callwright.test", 80),
        "subprotocols": [],
        "app": app,
    }
    inbox = [{"type": "websocket.connect"}]
    outbox: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        outbox.append(message)

    await app(scope, receive, send)
    return outbox[0]


@pytest.mark.parametrize("token_in", [None, "query", "path"], ids=["no_token", "token", "path_token"])
async def test_the_media_socket_refuses_an_id_that_cannot_exist_without_a_query(platform, token_in):
    from callwright.api.app import create_app

    app = create_app(platform=platform)
    wrong = []
    for kind, call_id in BAD_IDS.items():
        query, path = "", f"/media/vobiz/{call_id}"
        token = call_token(platform.token_keys[0], call_id, TokenPurpose.MEDIA)
        if token_in == "query":
            query = "token=" + token
        elif token_in == "path":  # where Plivo's and Vobiz's answer documents put it
            path = f"{path}/{token}"
        with statements(platform) as seen:
            first = await _open_media_socket(app, path, query)
        if first != {"type": "websocket.close", "code": 1008, "reason": ""}:
            wrong.append(f"{kind}: {first}")
        elif _sent_to_db(seen, call_id):
            wrong.append(f"{kind}: the id reached the database")
    assert wrong == []


# --- text fields -----------------------------------------------------------------------------

# The rule each refusal's message names.
CONTROL = "control character"
INVISIBLE = "invisible"
SURROGATE = "surrogate"
# Pydantic's own words for an unpaired surrogate in a str field.
PYDANTIC_SURROGATE = "unable to parse raw data as a unicode string"
# Fields whose own format (a pattern, a phone number) refuses these characters before the text
# rule is asked: their refusal names the field and that format.
OWN_FORMAT = {
    "account_sid", "auth_id", "caller_id", "exe_number", "from_number", "llm.provider", "stt.provider",
    "variables.0",
}

# (value, rule) for any text field; names, labels and URLs also refuse the invisible ones.
ANY_TEXT = {
    "nul": ("a\x00b", CONTROL),
    "escape": ("a\x1bb", CONTROL),
    "delete": ("a\x7fb", CONTROL),
    "c1": ("a\x85b", CONTROL),
    "surrogate": ("a\ud800b", SURROGATE),
}
LINE_ONLY = {"newline": ("a\nb", CONTROL), "tab": ("a\tb", CONTROL)}
NAME_ONLY = {
    "rtl_override": ("abc\u202edef", INVISIBLE),
    "rtl_isolate": ("abc\u2067def", INVISIBLE),
    "zero_width_space": ("ab\u200bc", INVISIBLE),
    "zero_width_joiner": ("ab\u200dc", INVISIBLE),
    "word_joiner": ("ab\u2060c", INVISIBLE),
    "bom": ("\ufeffabc", INVISIBLE),
}
FREE_TEXT = ANY_TEXT
LINE = ANY_TEXT | LINE_ONLY
NAME = LINE | NAME_ONLY


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``body`` with the field at a dotted ``path`` (list items by index) set to ``value``."""
    body = _deep_copy(body)
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


AGENT = {
    "agent_name": "Caller",
    "prompt": "You are helpful.",
    "intro_message": "Hello {{name}}",
    "voicemail_message": "Sorry we missed you.",
    "end_call_message": "Goodbye.",
    "end_call_instructions": "End when done.",
    "transfer_message": "Transferring.",
    "transfer_instructions": "Transfer on request.",
    "transfer_number": "+14155550100",
    "language": "en",
    "variables": ["name"],
    "llm": {"provider": "openai", "model": "gpt-4o-mini"},
    "stt": {"provider": "whisper", "language": "en"},
    "script": {"replies": [{"text": "Hi"}], "rules": [{"keywords": ["price"], "reply": "Ten."}], "fallback": "Sorry."},
}
AGENT_FIELDS = {
    "agent_name": NAME,
    "prompt": FREE_TEXT,
    "intro_message": FREE_TEXT,
    "voicemail_message": FREE_TEXT,
    "end_call_message": FREE_TEXT,
    "end_call_instructions": FREE_TEXT,
    "transfer_message": FREE_TEXT,
    "transfer_instructions": FREE_TEXT,
    "transfer_number": LINE,
    "voice_id": LINE,
    "language": LINE,
    "variables.0": LINE,
    "llm.provider": LINE,
    "llm.model": LINE,
    "stt.provider": LINE,
    "stt.language": LINE,
    "script.replies.0.text": FREE_TEXT,
    "script.rules.0.keywords.0": LINE,
    "script.rules.0.reply": FREE_TEXT,
    "script.fallback": FREE_TEXT,
}
CREDENTIALS = {
    "vobiz": {"auth_id": "MA_XXXXXXXX", "auth_token": "vobiz-token-9f8e", "from_number": "+918011223344"},
    "plivo": {"auth_id": "MAABCDEFGHIJ12345678", "auth_token": "plivo-token-1a2b", "from_number": "+14155550100"},
    "twilio": {"account_sid": "AC" + "0123456789abcdef" * 2, "auth_token": "tok-5e6f", "from_number": "+14155550101"},
    "exotel": {
        "account_sid": "acme1",
        "api_key": "exotel-key-77aa",
        "api_token": "exotel-token-88bb",
        "subdomain": "api.in.exotel.com",
        "caller_id": "+918047112345",
        "applet_id": "123456",
    },
    "mcube": {"jwt_token": "mcube-jwt-eyJhbGciOi.secret", "exe_number": "9876543210"},
}


TEXT_FIELDS = {
    "POST /api/v2/agent": AGENT_FIELDS,
    "PUT /api/v2/agent/{agent}": {"agent_name": NAME, "prompt": FREE_TEXT, "llm.model": LINE},
    "POST /api/v2/calls/start": {
        "agent_id": LINE,
        "to_number": LINE,
        "provider": LINE,
        "connection_id": LINE,
        "variables.name": FREE_TEXT,
    },
    "POST /api/v2/config/webhooks": {"label": NAME, "url": NAME},
    "PUT /api/v2/config/webhook": {"webhook_url": NAME, "url": NAME},
    **{
        f"PUT /api/v2/config/telephony/{provider}": {f: LINE for f in body if f != "subdomain"}
        for provider, body in CREDENTIALS.items()
    },
    "POST /admin/v1/partners": {"name": NAME, "display_name": NAME, "allowed_telephony_providers.0": LINE},
    "PATCH /admin/v1/partners/acme-corp": {"display_name": NAME},
    "POST /api/v2/projects": {"name": NAME, "description": FREE_TEXT},
    "POST /api/v2/functions": {
        "description": FREE_TEXT, "url": NAME, "error_message": FREE_TEXT, "started_messages.0": FREE_TEXT,
        "headers.0.value": LINE, "input_schema.0.description": FREE_TEXT,
    },
    "POST /admin/v1/partners/acme-corp/credits/top-ups": {"note": FREE_TEXT},
}


def _body_for(route: str, field: str, *, agent: str, connection: str) -> dict[str, Any]:
    if route == "PUT /api/v2/agent/{agent}":
        return {"agent_name": "Renamed", "prompt": "Hi", "llm": {"model": "m"}}
    if route.endswith("/agent"):
        return AGENT
    if route.endswith("/calls/start"):
        return {
            "agent_id": agent,
            "to_number": "+919876543210",
            "provider": "vobiz",
            "connection_id": connection,
            "variables": {"name": "Asha"},
        }
    if route.endswith("/config/webhooks"):
        return {"label": "prod", "url": "http://127.0.0.1:9000/hook"}
    if route.endswith("/config/webhook"):
        return {field: "http://127.0.0.1:9000/hook"}
    if "/config/telephony/" in route:
        return CREDENTIALS[route.rsplit("/", 1)[1]]
    if route.endswith("/partners"):
        return {"name": "initech", "display_name": "Initech", "allowed_telephony_providers": ["vobiz"]}
    if route.endswith("/projects"):
        return {"name": "Client A", "description": "Agents for Client A"}
    if route.endswith("/functions"):
        return {
            "name": "check_order", "description": "Look up an order.", "url": "http://127.0.0.1:9000/orders",
            "headers": [{"key": "X-Key", "value": "k"}], "input_schema": [{"name": "order_id", "type": "string"}],
            "started_messages": ["One moment."], "error_message": "Sorry.",
        }
    if route.endswith("/top-ups"):
        return {"amount": "10", "note": "invoice 1"}
    return {"display_name": "Acme"}


def _refusal_mismatch(response, field: str, rule: str) -> str | None:
    rules = [rule, PYDANTIC_SURROGATE] if rule == SURROGATE else [rule]
    for expected in rules:
        try:
            assert_refused(response, field, expected)
        except AssertionError:
            continue
        return None
    return f"{response.status_code} {response.text[:300]}"


@pytest.mark.parametrize("route", list(TEXT_FIELDS))
async def test_every_text_field_refuses_what_it_may_not_hold_and_stores_nothing(
    client, platform, partner, admin_headers, route
):
    connection = await add_connection(
        platform, partner.id, "vobiz", {"auth_id": "MA_X", "from_number": "+918011223344"}, {"auth_token": "t"}
    )
    created = await client.post("/api/v2/agent", json={"agent_name": "Existing"}, headers=partner.headers)
    agent = created.json()["data"]["id"]
    method, path = route.split(" ", 1)
    path = path.replace("{agent}", agent)
    headers = admin_headers if path.startswith("/admin") else partner.headers
    before = await row_counts(platform)
    snapshot = (await client.get(f"/api/v2/agent/{agent}", headers=partner.headers)).json()

    wrong = []
    for field, kinds in TEXT_FIELDS[route].items():
        for kind, (value, rule) in kinds.items():
            body = _set(_body_for(route, field, agent=agent, connection=connection), field, value)
            response = await _send_json(client, method, path, body, headers)
            named = "variables" if field.startswith("variables.") else field
            expected = "" if field in OWN_FORMAT else rule
            if (mismatch := _refusal_mismatch(response, named, expected)) is not None:
                wrong.append(f"{field} {kind}: {mismatch}")
    assert wrong == []
    assert await row_counts(platform) == before
    assert (await client.get(f"/api/v2/agent/{agent}", headers=partner.headers)).json() == snapshot


@pytest.mark.parametrize(
    "field", ["prompt", "intro_message", "end_call_instructions", "script.fallback"]
)
async def test_free_text_keeps_tabs_and_line_breaks(client, partner, field):
    body = _set({"agent_name": "Multi", **{k: AGENT[k] for k in ("script",)}}, field, "One.\r\n\tTwo.\nThree.")
    response = await client.post("/api/v2/agent", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text


async def test_names_keep_letters_of_every_script(client, partner):
    body = {"agent_name": "مساعد – Ассистент 助手 👩🏽"}
    response = await client.post("/api/v2/agent", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["agent_name"] == body["agent_name"]


async def test_an_idempotency_key_with_a_control_character_is_refused(client, platform, partner):
    await add_connection(
        platform, partner.id, "vobiz", {"auth_id": "MA_X", "from_number": "+918011223344"}, {"auth_token": "t"}
    )
    agent = (await client.post("/api/v2/agent", json={"agent_name": "A"}, headers=partner.headers)).json()["data"]["id"]
    before = await row_counts(platform)
    response = await client.post(
        "/api/v2/calls/start",
        json={"agent_id": agent, "to_number": "+919876543210", "provider": "vobiz"},
        headers=partner.headers | {"Idempotency-Key": "key\x00one"},
    )
    assert_refused(response, "idempotency-key", CONTROL)
    assert await row_counts(platform) == before


@pytest.mark.parametrize(
    "variables",
    [{"name": "a\x00b"}, {"a\x00b": "x"}, {"nested": {"deep": ["ok", "a\x00b"]}}],
    ids=["value", "key", "nested"],
)
async def test_call_variables_refuse_control_characters_anywhere(client, platform, partner, variables):
    await add_connection(
        platform, partner.id, "vobiz", {"auth_id": "MA_X", "from_number": "+918011223344"}, {"auth_token": "t"}
    )
    agent = (await client.post("/api/v2/agent", json={"agent_name": "A"}, headers=partner.headers)).json()["data"]["id"]
    before = await row_counts(platform)
    response = await client.post(
        "/api/v2/calls/start",
        json={"agent_id": agent, "to_number": "+919876543210", "provider": "vobiz", "variables": variables},
        headers=partner.headers,
    )
    assert_refused(response, "variables", CONTROL)
    assert await row_counts(platform) == before


@pytest.mark.parametrize("field", ["Status", "CallSid"])
async def test_a_carrier_callback_with_a_control_character_is_refused_and_changes_nothing(
    client, platform, partner, field
):
    # Exotel signs nothing: the URL's call token alone admits a callback.
    call_id = await add_call(platform, partner.id, provider="exotel", status="ringing")
    token = call_token(platform.token_keys[0], call_id, TokenPurpose.CALLBACK)
    before = await row_counts(platform)
    response = await client.post(
        f"/telephony/exotel/{call_id}/status",
        params={"token": token},
        data={"CallSid": "abc", "Status": "completed"} | {field: "x\x00y"},
    )
    assert_refused(response, field, CONTROL)
    assert await row_counts(platform) == before


# --- numbers ---------------------------------------------------------------------------------

LIST_ROUTES = [
    "/api/v2/agents",
    "/api/v2/calls",
    "/api/v2/projects",
    "/api/v2/config/webhooks/{endpoint}/deliveries",
    "/admin/v1/partners",
    "/admin/v1/partners/acme-corp/keys",
    "/admin/v1/partners/acme-corp/credits/ledger",
]


OUT_OF_BOUNDS = [
    ("offset", 2**63), ("offset", 2**64 + 1), ("offset", -1), ("offset", 1_000_000_001),
    ("limit", 2**63), ("limit", 0), ("limit", 101), ("limit", -(2**63) - 1),
]


@pytest.mark.parametrize("path", LIST_ROUTES)
async def test_every_list_bounds_its_numbers(client, partner, admin_headers, path):
    endpoint = (
        await client.post(
            "/api/v2/config/webhooks", json={"label": "prod", "url": "http://127.0.0.1:9000/h"}, headers=partner.headers
        )
    ).json()["data"]["id"]
    headers = admin_headers if path.startswith("/admin") else partner.headers
    wrong = []
    for param, value in OUT_OF_BOUNDS:
        response = await client.get(path.replace("{endpoint}", endpoint), params={param: value}, headers=headers)
        if (mismatch := _refusal_mismatch(response, param, "")) is not None:
            wrong.append(f"{param}={value}: {mismatch}")
    assert wrong == []


@pytest.mark.parametrize("path", LIST_ROUTES)
async def test_the_largest_offset_is_answered(client, partner, admin_headers, path):
    endpoint = (
        await client.post(
            "/api/v2/config/webhooks", json={"label": "prod", "url": "http://127.0.0.1:9000/h"}, headers=partner.headers
        )
    ).json()["data"]["id"]
    headers = admin_headers if path.startswith("/admin") else partner.headers
    response = await client.get(
        path.replace("{endpoint}", endpoint), params={"offset": 1_000_000_000, "limit": 100}, headers=headers
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["calls"] if path == "/api/v2/calls" else data) == []  # GET /calls: {calls, total, …}


# --- webhook host names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["a" * 64 + ".example.com", "hooks..example.com", ".".join(["a" * 60] * 5)],
    ids=["label_over_63", "empty_label", "name_over_253"],
)
async def test_a_webhook_host_that_is_no_dns_name_is_refused_before_any_lookup(settings, platform, host):
    # Production resolves a host to check its addresses; Python's IDNA codec raised UnicodeError
    # (not OSError) on these names, which answered 500.
    import httpx

    from callwright.api.app import create_app
    from callwright.platform import Platform
    from callwright.settings import Environment
    from tests.conftest import make_partner

    production = Platform.from_settings(settings.model_copy(update={"env": Environment.PRODUCTION}))
    try:
        handle = await make_partner(production, "prod-partner")
        transport = httpx.ASGITransport(app=create_app(platform=production), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://callwright.test") as client:
            before = await row_counts(production)
            response = await client.post(
                "/api/v2/config/webhooks",
                json={"label": "prod", "url": f"https://{host}/hook"},
                headers=handle.headers,
            )
            assert_refused(response, "url", "url host")
            assert await row_counts(production) == before
    finally:
        await production.close()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
async def test_call_variables_refuse_numbers_json_cannot_hold(client, platform, partner, number):
    # Python's JSON parser takes NaN and Infinity; PostgreSQL's JSON type does not (a 500).
    await add_connection(
        platform, partner.id, "vobiz", {"auth_id": "MA_X", "from_number": "+918011223344"}, {"auth_token": "t"}
    )
    agent = (await client.post("/api/v2/agent", json={"agent_name": "A"}, headers=partner.headers)).json()["data"]["id"]
    before = await row_counts(platform)
    body = (
        f'{{"agent_id": "{agent}", "to_number": "+919876543210", "provider": "vobiz", '
        f'"variables": {{"score": [1, {number}]}}}}'
    )
    response = await client.post(
        "/api/v2/calls/start", content=body, headers=partner.headers | {"Content-Type": "application/json"}
    )
    assert_refused(response, "variables", "finite")
    assert await row_counts(platform) == before
