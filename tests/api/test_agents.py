"""Agents through the real app and a real database: CRUD, every validation rule, limits, tenancy."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from callwright.voice.catalog import installed_voices
from tests.conftest import error_of, make_partner

API = "/api/v2"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")

FULL = {
    "agent_name": "Sales follow-up",
    "prompt": "You are Maya. Confirm {{customer_name}}'s slot for order {{ order_id }}.",
    "voice_id": "piper-joe-us",
    "agent_type": "inbound",
    "intro_message": "Hi {{customer_name}}, this is Maya.",
    "voicemail_detection_enabled": True,
    "voicemail_message": "Sorry we missed you.",
    "enable_recording": True,
    "end_call_enabled": True,
    "end_call_message": "Goodbye!",
    "end_call_instructions": "End once the slot is confirmed.",
    "max_call_duration_secs": 900,
    "variables": ["customer_name", "order_id"],
    "llm": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.4},
    "stt": {"provider": "whisper", "language": "en-US"},
}


async def create(client, handle, **fields):
    body = {"agent_name": "Receptionist", **fields}
    return await client.post(f"{API}/agent", json=body, headers=handle.headers)


async def created(client, handle, **fields) -> dict:
    response = await create(client, handle, **fields)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def validation_error(response, field: str) -> str:
    """The message of the 400 error for ``field``, after checking status, code and envelope."""
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["code"], error["reason"]) == ("VALIDATION_ERROR", "validation_error")
    fields = [d["field"] for d in error["details"]]
    assert field in fields, error
    return next(d["message"] for d in error["details"] if d["field"] == field)


# --- create / get -------------------------------------------------------------------------------


async def test_create_with_only_a_name_fills_the_defaults(client, partner):
    response = await create(client, partner, agent_name="Receptionist")
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert uuid.UUID(data["id"]).version == 4
    assert ISO_UTC.fullmatch(data["created_at"]) and ISO_UTC.fullmatch(data["updated_at"])
    default = installed_voices()[0]
    projects = (await client.get(f"{API}/projects", headers=partner.headers)).json()["data"]
    assert data["project_id"] == projects[0]["id"] and projects[0]["is_default"]  # the Default project
    generated = ("id", "created_at", "updated_at", "project_id")
    without_generated = {k: v for k, v in data.items() if k not in generated}
    assert without_generated == {
        "agent_name": "Receptionist",
        "agent_type": "outbound",
        "status": "active",
        "prompt": "",
        "voice_id": default.voice_id,
        "language": default.language,
        "intro_message": None,
        "voicemail_detection_enabled": False,
        "voicemail_message": None,
        "enable_recording": False,
        "end_call_enabled": False,
        "end_call_message": None,
        "end_call_instructions": None,
        "transfer_enabled": False,
        "transfer_number": None,
        "transfer_message": None,
        "transfer_instructions": None,
        "transfer_mode": "cold",
        "max_call_duration_secs": 600,
        "variables": [],
        "llm": None,
        "stt": None,
        "script": None,
        "function_ids": [],
        "opt_out_enabled": False,
        "send_dtmf_enabled": False,
        "kb_threshold": "medium",
        "kb_include_summaries": False,
        "kb_result_format": None,
        "kb_enable_llm_processing": False,
        "kb_llm_system_prompt": None,
        "background_audio_id": None,
        "background_audio_volume": 0.5,
        "extraction_config": None,
        "document_count": 0,
        "endCallEnabled": False,
        "endCallMessage": None,
        "transferEnabled": False,
        "transferNumber": None,
        "transferMessage": None,
    }


async def test_create_every_field_then_get_returns_the_same(client, partner):
    data = await created(client, partner, **FULL)
    for field, value in FULL.items():
        assert data[field] == value, field
    assert data["language"] == "en"
    assert (data["endCallEnabled"], data["endCallMessage"]) == (True, "Goodbye!")
    response = await client.get(f"{API}/agent/{data['id']}", headers=partner.headers)
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": data}


async def test_agent_name_is_trimmed(client, partner):
    data = await created(client, partner, agent_name="  Sales  ")
    assert data["agent_name"] == "Sales"


async def test_explicit_language_overrides_the_voice_and_is_normalized(client, partner):
    data = await created(client, partner, language="HI-in")
    assert data["language"] == "hi-IN"


async def test_empty_intro_message_means_none(client, partner):
    data = await created(client, partner, intro_message="", transfer_number="")
    assert data["intro_message"] is None
    assert data["transfer_number"] is None


async def test_engine_names_are_lower_cased(client, partner):
    data = await created(client, partner, llm={"provider": " OpenAI "}, stt={"language": "EN-us"})
    assert data["llm"] == {"provider": "openai", "model": None, "temperature": None}
    assert data["stt"] == {"provider": None, "language": "en-US"}


# --- camelCase fields ---------------------------------------------------------------------------


async def test_camel_case_end_call_fields_are_accepted_and_echoed_both_ways(client, partner):
    data = await created(client, partner, endCallEnabled=True, endCallMessage="Bye now.")
    assert data["end_call_enabled"] is True and data["endCallEnabled"] is True
    assert data["end_call_message"] == data["endCallMessage"] == "Bye now."

    response = await client.put(
        f"{API}/agent/{data['id']}", json={"endCallEnabled": False}, headers=partner.headers
    )
    assert response.status_code == 200
    updated = response.json()["data"]
    assert updated["end_call_enabled"] is False and updated["endCallEnabled"] is False
    assert updated["endCallMessage"] == "Bye now."


async def test_camel_case_transfer_fields_switched_off_are_accepted(client, partner):
    data = await created(client, partner, transferEnabled=False, transferNumber=None, transferMessage="")
    assert (data["transfer_enabled"], data["transferEnabled"]) == (False, False)
    assert data["transferNumber"] is None and data["transferMessage"] is None


@pytest.mark.parametrize(
    ("snake", "camel", "value"),
    [
        ("transfer_enabled", "transferEnabled", True),
        ("end_call_enabled", "endCallEnabled", True),
        ("end_call_message", "endCallMessage", "Bye."),
    ],
)
async def test_both_spellings_of_one_field_are_refused(client, partner, snake, camel, value):
    response = await create(client, partner, **{snake: value, camel: value})
    message = validation_error(response, "body")
    assert f"both {snake} and {camel}" in message


async def test_a_bad_camel_case_number_names_the_field_as_sent(client, partner):
    response = await create(client, partner, transferNumber="12345")
    assert validation_error(response, "transferNumber") == (
        "transferNumber must be E.164, like +919876543210"
    )


# --- validation on create -------------------------------------------------------------------------


async def test_missing_agent_name(client, partner):
    response = await client.post(f"{API}/agent", json={"prompt": "hi"}, headers=partner.headers)
    assert validation_error(response, "agent_name") == "agent_name is required"


@pytest.mark.parametrize("name", ["", "   "])
async def test_blank_agent_name(client, partner, name):
    response = await create(client, partner, agent_name=name)
    assert "at least 1 character" in validation_error(response, "agent_name")


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("agent_name", 50),
        ("prompt", 120_000),
        ("intro_message", 500),
        ("voicemail_message", 500),
        ("end_call_message", 500),
        ("end_call_instructions", 2_000),
        ("kb_result_format", 2_000),
        ("kb_llm_system_prompt", 120_000),
    ],
)
async def test_text_length_limits_at_the_boundary(client, partner, field, limit):
    ok = await create(client, partner, **{"agent_name": "ok", field: "x" * limit})
    assert ok.status_code == 201, ok.text
    assert ok.json()["data"][field] == "x" * limit
    too_long = await create(client, partner, **{"agent_name": "too long", field: "x" * (limit + 1)})
    assert f"at most {limit} characters" in validation_error(too_long, field)


async def test_transfer_number_longer_than_32_is_refused(client, partner):
    response = await create(client, partner, transfer_number="+" + "1" * 32)
    assert "at most 32 characters" in validation_error(response, "transfer_number")


async def test_unknown_voice_lists_the_installed_ones(client, partner):
    response = await create(client, partner, voice_id="alloy")
    message = validation_error(response, "voice_id")
    assert message.startswith("voice_id must be one of the installed voices: ")
    for voice in installed_voices():
        assert voice.voice_id in message


@pytest.mark.parametrize("language", ["english", "en_US", "e", ""])
async def test_bad_language(client, partner, language):
    response = await create(client, partner, language=language)
    assert validation_error(response, "language")


async def test_bad_agent_type(client, partner):
    response = await create(client, partner, agent_type="sideways")
    message = validation_error(response, "agent_type")
    assert message.startswith("agent_type must be one of") and "outbound" in message


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (["ok", "2nd"], "variables must match ^[a-zA-Z_][a-zA-Z0-9_]*$"),
        (["first name"], "variables must match"),
        (["a", "a"], "variables must not repeat a name"),
        (["x" * 65], "variables must be at most 64 characters"),
    ],
)
async def test_bad_variable_names(client, partner, variables, expected):
    response = await create(client, partner, variables=variables)
    assert validation_error(response, "variables").startswith(expected)


async def test_a_non_string_variable_is_refused(client, partner):
    response = await create(client, partner, variables=["ok", 7])
    assert validation_error(response, "variables.1")


async def test_one_hundred_variables_ok_one_hundred_and_one_refused(client, partner):
    names = [f"var_{i}" for i in range(100)]
    assert (await create(client, partner, agent_name="a", variables=names)).status_code == 201
    response = await create(client, partner, agent_name="b", variables=[*names, "var_100"])
    assert validation_error(response, "variables") == "variables must list at most 100 names, not 101"


@pytest.mark.parametrize("field", ["prompt", "intro_message"])
async def test_malformed_placeholder_names_the_field(client, partner, field):
    response = await create(client, partner, **{field: "Hello {{first name}}"})
    message = validation_error(response, field)
    assert message.startswith(f"{field} must write placeholders as {{{{name}}}}")
    assert "{{first name}}" in message


@pytest.mark.parametrize(
    ("secs", "status"), [(59, 400), (60, 201), (600, 201), (3600, 201), (3601, 400)]
)
async def test_call_duration_bounds(client, partner, secs, status):
    response = await create(client, partner, max_call_duration_secs=secs)
    assert response.status_code == status, response.text
    if status == 201:
        assert response.json()["data"]["max_call_duration_secs"] == secs
    else:
        assert validation_error(response, "max_call_duration_secs") == (
            "max_call_duration_secs must be between 60 and 3600 seconds, or null for no cap"
        )


async def test_null_call_duration_means_no_cap(client, partner):
    data = await created(client, partner, max_call_duration_secs=None)
    assert data["max_call_duration_secs"] is None


@pytest.mark.parametrize("value", ["600", 600.5, 600.0, True])
async def test_call_duration_must_be_an_integer(client, partner, value):
    response = await create(client, partner, max_call_duration_secs=value)
    assert validation_error(response, "max_call_duration_secs")


@pytest.mark.parametrize("value", ["true", 1])
async def test_booleans_are_strict(client, partner, value):
    response = await create(client, partner, enable_recording=value)
    assert validation_error(response, "enable_recording")


@pytest.mark.parametrize("number", ["12345", "+1234", "+91 98765 43210", "+9198765432100000"])
async def test_bad_transfer_number(client, partner, number):
    response = await create(client, partner, transfer_number=number)
    assert validation_error(response, "transfer_number")


async def test_transfer_number_message_names_the_rule(client, partner):
    response = await create(client, partner, transfer_number="9876543210")
    assert validation_error(response, "transfer_number") == (
        "transfer_number must be E.164, like +919876543210"
    )


async def test_transfer_fields_are_stored_in_both_casings(client, partner):
    data = await created(
        client, partner, transferEnabled=True, transferNumber="+919876543210",
        transferMessage="One moment.", transfer_instructions="When they ask for a human.",
    )
    assert (data["transfer_enabled"], data["transferEnabled"]) == (True, True)
    assert (data["transfer_number"], data["transferNumber"]) == ("+919876543210", "+919876543210")
    assert data["transferMessage"] == "One moment." and data["transfer_instructions"] == "When they ask for a human."


@pytest.mark.parametrize(("field", "limit"), [("transfer_message", 500), ("transfer_instructions", 2_000)])
async def test_transfer_texts_keep_their_documented_limits(client, partner, field, limit):
    ok = await created(client, partner, **{field: "x" * limit})
    assert ok[field] == "x" * limit
    too_long = await create(client, partner, **{"agent_name": "too long", field: "x" * (limit + 1)})
    assert f"at most {limit} characters" in validation_error(too_long, field)


async def test_transfer_enabled_needs_a_number(client, partner):
    response = await create(client, partner, transfer_enabled=True)
    assert validation_error(response, "transfer_number") == (
        "transfer_number is required when transfer_enabled is true"
    )


@pytest.mark.parametrize(
    ("llm", "field"),
    [
        ({"temperature": 2.01}, "llm.temperature"),
        ({"temperature": -0.1}, "llm.temperature"),
        ({"temperature": "hot"}, "llm.temperature"),
        ({"provider": "open ai"}, "llm.provider"),
        ({"model": "m" * 201}, "llm.model"),
        ({"top_p": 1}, "llm.top_p"),
    ],
)
async def test_bad_llm_settings(client, partner, llm, field):
    response = await create(client, partner, llm=llm)
    assert validation_error(response, field)


async def test_temperature_bounds_are_inclusive(client, partner):
    data = await created(client, partner, agent_name="cold", llm={"temperature": 0})
    assert data["llm"]["temperature"] == 0
    data = await created(client, partner, agent_name="hot", llm={"temperature": 2})
    assert data["llm"]["temperature"] == 2


async def test_bad_stt_language(client, partner):
    response = await create(client, partner, stt={"language": "klingon"})
    assert validation_error(response, "stt.language")


async def test_unknown_field_is_named(client, partner):
    response = await create(client, partner, colour="blue")
    assert validation_error(response, "colour") == "colour is not a known field"


async def test_malformed_json_is_400(client, partner):
    response = await client.post(
        f"{API}/agent",
        content=b'{"agent_name": "x",',
        headers={**partner.headers, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert error_of(response)["reason"] == "invalid_json"


async def test_a_json_array_body_is_refused(client, partner):
    response = await client.post(f"{API}/agent", json=[{"agent_name": "x"}], headers=partner.headers)
    assert validation_error(response, "body") == "the request body must be a JSON object"


async def test_every_problem_is_listed(client, partner):
    response = await create(client, partner, agent_name="x" * 51, max_call_duration_secs=10)
    assert response.status_code == 400
    error = error_of(response)
    assert {d["field"] for d in error["details"]} == {"agent_name", "max_call_duration_secs"}
    assert "(and 1 more problem)" in error["message"]


async def test_nothing_is_stored_when_validation_fails(client, partner):
    await create(client, partner, transfer_enabled=True)
    response = await client.get(f"{API}/agents", headers=partner.headers)
    assert response.json()["pagination"]["total"] == 0


# --- duplicate names and the agent limit ----------------------------------------------------------


async def test_duplicate_name_is_409(client, partner):
    await created(client, partner, agent_name="Sales")
    response = await create(client, partner, agent_name="Sales")
    assert response.status_code == 409
    error = error_of(response)
    assert error["reason"] == "agent_name_taken"
    assert "'Sales'" in error["message"]


async def test_another_partner_may_reuse_a_name(client, partner, other_partner):
    await created(client, partner, agent_name="Sales")
    await created(client, other_partner, agent_name="Sales")


async def test_concurrent_creates_with_one_name_make_exactly_one_agent(client, partner):
    responses = await asyncio.gather(*(create(client, partner, agent_name="Race") for _ in range(5)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409], [r.text for r in responses]
    listing = await client.get(f"{API}/agents", headers=partner.headers)
    assert listing.json()["pagination"]["total"] == 1


async def test_agent_limit(client, platform):
    handle = await make_partner(platform, "small-co", agent_limit=2)
    first = await created(client, handle, agent_name="one")
    await created(client, handle, agent_name="two")
    response = await create(client, handle, agent_name="three")
    assert response.status_code == 403
    error = error_of(response)
    assert error["reason"] == "agent_limit_reached"
    assert "at most 2 agents" in error["message"]
    assert error["details"] == {"agent_limit": 2, "current_agent_count": 2}

    listing = await client.get(f"{API}/agents", headers=handle.headers)
    assert [a["agent_name"] for a in listing.json()["data"]] == ["two", "one"]

    await client.delete(f"{API}/agent/{first['id']}", headers=handle.headers)
    await created(client, handle, agent_name="three")


async def test_agent_limit_holds_under_concurrent_creates(client, platform):
    handle = await make_partner(platform, "small-co", agent_limit=3)
    responses = await asyncio.gather(
        *(create(client, handle, agent_name=f"agent-{i}") for i in range(6))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201, 201, 403, 403, 403], [r.text for r in responses]
    listing = await client.get(f"{API}/agents", headers=handle.headers)
    assert listing.json()["pagination"]["total"] == 3


async def test_config_counts_agents(client, partner):
    async def count() -> int:
        response = await client.get(f"{API}/config", headers=partner.headers)
        return response.json()["data"]["current_agent_count"]

    assert await count() == 0
    first = await created(client, partner, agent_name="one")
    await created(client, partner, agent_name="two")
    assert await count() == 2
    await client.delete(f"{API}/agent/{first['id']}", headers=partner.headers)
    assert await count() == 1


# --- list ---------------------------------------------------------------------------------------


async def test_list_is_newest_first_and_paginated(client, partner):
    ids = [(await created(client, partner, agent_name=f"agent-{i}"))["id"] for i in range(5)]
    newest_first = ids[::-1]

    response = await client.get(f"{API}/agents", headers=partner.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert [a["id"] for a in body["data"]] == newest_first
    assert body["pagination"] == {"limit": 10, "offset": 0, "total": 5}
    assert body["data"][0]["transferEnabled"] is False

    page = (await client.get(f"{API}/agents?limit=2&offset=2", headers=partner.headers)).json()
    assert [a["id"] for a in page["data"]] == newest_first[2:4]
    assert page["pagination"] == {"limit": 2, "offset": 2, "total": 5}

    past_end = (await client.get(f"{API}/agents?offset=5", headers=partner.headers)).json()
    assert past_end["data"] == [] and past_end["pagination"]["total"] == 5


async def test_list_page_size_defaults_to_ten(client, partner):
    for i in range(11):
        await created(client, partner, agent_name=f"agent-{i}")
    body = (await client.get(f"{API}/agents", headers=partner.headers)).json()
    assert len(body["data"]) == 10 and body["pagination"]["total"] == 11
    body = (await client.get(f"{API}/agents?limit=100", headers=partner.headers)).json()
    assert len(body["data"]) == 11


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("offset=-1", "offset"), ("limit=x", "limit")],
)
async def test_list_rejects_bad_paging(client, partner, query, field):
    response = await client.get(f"{API}/agents?{query}", headers=partner.headers)
    assert validation_error(response, field).startswith(f"{field}:")


async def test_agents_need_an_api_key(client, partner):
    assert (await client.get(f"{API}/agents")).status_code == 401
    assert (await client.post(f"{API}/agent", json={"agent_name": "x"})).status_code == 401
    assert (await client.get(f"{API}/agent/voices")).status_code == 401


# --- update -------------------------------------------------------------------------------------


async def test_partial_update_changes_only_what_was_sent(client, partner):
    before = await created(client, partner, **FULL)
    response = await client.put(
        f"{API}/agent/{before['id']}",
        json={"prompt": "New prompt for {{customer_name}}.", "max_call_duration_secs": 120},
        headers=partner.headers,
    )
    assert response.status_code == 200
    after = response.json()["data"]
    assert after["prompt"] == "New prompt for {{customer_name}}."
    assert after["max_call_duration_secs"] == 120
    assert ISO_UTC.fullmatch(after["updated_at"])
    assert after["updated_at"] > before["updated_at"]
    changed = {"prompt", "max_call_duration_secs", "updated_at"}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }
    fetched = await client.get(f"{API}/agent/{before['id']}", headers=partner.headers)
    assert fetched.json()["data"] == after


async def test_update_clears_optional_fields_with_null_or_empty(client, partner):
    agent = await created(client, partner, **FULL)
    response = await client.put(
        f"{API}/agent/{agent['id']}",
        json={
            "intro_message": None,
            "voicemail_message": "",
            "max_call_duration_secs": None,
            "llm": None,
            "transfer_enabled": False,
            "transfer_number": None,
        },
        headers=partner.headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["intro_message"] is None
    assert data["voicemail_message"] is None
    assert data["max_call_duration_secs"] is None
    assert data["llm"] is None
    assert data["transfer_number"] is None and data["transferNumber"] is None


async def test_rename_and_duplicate_rename(client, partner):
    one = await created(client, partner, agent_name="one")
    await created(client, partner, agent_name="two")
    url = f"{API}/agent/{one['id']}"
    same = await client.put(url, json={"agent_name": "one"}, headers=partner.headers)
    assert same.status_code == 200
    clash = await client.put(
        url, json={"agent_name": "two", "prompt": "changed"}, headers=partner.headers
    )
    assert clash.status_code == 409
    assert error_of(clash)["reason"] == "agent_name_taken"
    still = (await client.get(url, headers=partner.headers)).json()["data"]
    assert still["agent_name"] == "one" and still["prompt"] == ""
    renamed = await client.put(url, json={"agent_name": "uno"}, headers=partner.headers)
    assert renamed.json()["data"]["agent_name"] == "uno"


async def test_update_language_follows_voice_until_set(client, partner):
    agent = await created(client, partner)
    url = f"{API}/agent/{agent['id']}"
    data = (await client.put(url, json={"language": "hi"}, headers=partner.headers)).json()["data"]
    assert data["language"] == "hi"
    voice = installed_voices()[0]
    response = await client.put(url, json={"voice_id": voice.voice_id}, headers=partner.headers)
    data = response.json()["data"]
    assert data["language"] == "hi"  # explicit language survives a voice change
    data = (await client.put(url, json={"language": None}, headers=partner.headers)).json()["data"]
    assert data["language"] == voice.language


async def test_empty_update_is_refused(client, partner):
    agent = await created(client, partner)
    response = await client.put(f"{API}/agent/{agent['id']}", json={}, headers=partner.headers)
    assert validation_error(response, "body") == (
        "body must contain at least one agent field to change, like prompt or voice_id"
    )


@pytest.mark.parametrize(
    "field", ["agent_name", "prompt", "agent_type", "enable_recording", "variables"]
)
async def test_update_cannot_null_a_required_field(client, partner, field):
    agent = await created(client, partner)
    url = f"{API}/agent/{agent['id']}"
    response = await client.put(url, json={field: None}, headers=partner.headers)
    assert validation_error(response, field).startswith(f"{field} must not be null")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"agent_name": "x" * 51}, "agent_name"),
        ({"voice_id": "alloy"}, "voice_id"),
        ({"variables": ["bad name"]}, "variables"),
        ({"max_call_duration_secs": 3601}, "max_call_duration_secs"),
        ({"transfer_number": "+1"}, "transfer_number"),
        ({"intro_message": "{{oops"}, "intro_message"),
        ({"kb_threshold": "very"}, "kb_threshold"),
    ],
)
async def test_update_validates_like_create(client, partner, body, field):
    agent = await created(client, partner)
    response = await client.put(f"{API}/agent/{agent['id']}", json=body, headers=partner.headers)
    assert validation_error(response, field)


async def test_update_turns_transfer_on_and_off(client, partner):
    agent = await created(client, partner)
    url = f"{API}/agent/{agent['id']}"
    without_number = await client.put(url, json={"transferEnabled": True}, headers=partner.headers)
    assert validation_error(without_number, "transfer_number")
    enable = await client.put(url, json={"transferEnabled": True, "transferNumber": "+14155551234"}, headers=partner.headers)
    assert enable.status_code == 200, enable.text
    assert enable.json()["data"]["transfer_enabled"] is True
    off = await client.put(url, json={"transferEnabled": False}, headers=partner.headers)
    assert off.status_code == 200, off.text
    data = (await client.get(url, headers=partner.headers)).json()["data"]
    assert data["transfer_enabled"] is False and data["transfer_number"] == "+14155551234"


async def test_update_malformed_json_is_400(client, partner):
    agent = await created(client, partner)
    response = await client.put(
        f"{API}/agent/{agent['id']}",
        content=b"{nope",
        headers={**partner.headers, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert error_of(response)["reason"] == "invalid_json"


# --- delete -------------------------------------------------------------------------------------


async def test_delete(client, partner):
    agent = await created(client, partner, agent_name="Sales")
    url = f"{API}/agent/{agent['id']}"
    response = await client.delete(url, headers=partner.headers)
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"message": "Agent deleted successfully"}}
    assert (await client.get(url, headers=partner.headers)).status_code == 404
    assert (await client.delete(url, headers=partner.headers)).status_code == 404
    await created(client, partner, agent_name="Sales")  # the name is free again


# --- ids and tenancy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "agent_id",
    ["0b6a4f4e-8a57-4c1e-9a43-5b0d3f1f2c11", "not-a-uuid", "1", "x" * 300],
    ids=["unknown-uuid", "not-a-uuid", "digit", "very-long"],
)
async def test_unknown_or_malformed_id_is_404(client, partner, agent_id):
    response = await client.get(f"{API}/agent/{agent_id}", headers=partner.headers)
    assert response.status_code == 404
    assert error_of(response)["reason"] == "agent_not_found"


async def test_id_is_matched_case_insensitively(client, partner):
    agent = await created(client, partner)
    response = await client.get(f"{API}/agent/{agent['id'].upper()}", headers=partner.headers)
    assert response.status_code == 200
    assert response.json()["data"]["id"] == agent["id"]


async def test_another_partners_agent_is_invisible_and_untouchable(client, partner, other_partner):
    agent = await created(client, partner, **FULL)
    url = f"{API}/agent/{agent['id']}"
    missing_id = str(uuid.uuid4())

    # B's answer for A's id must be byte-for-byte B's answer for an unknown id (ids swapped).
    for method, kwargs in [("GET", {}), ("PUT", {"json": {"prompt": "hijacked"}}), ("DELETE", {})]:
        foreign = await client.request(method, url, headers=other_partner.headers, **kwargs)
        missing = await client.request(
            method, f"{API}/agent/{missing_id}", headers=other_partner.headers, **kwargs
        )
        assert foreign.status_code == missing.status_code == 404, method
        assert foreign.json() == _swap(missing.json(), missing_id, agent["id"]), method

    listing = await client.get(f"{API}/agents", headers=other_partner.headers)
    assert listing.json()["data"] == []
    assert listing.json()["pagination"]["total"] == 0
    config = await client.get(f"{API}/config", headers=other_partner.headers)
    assert config.json()["data"]["current_agent_count"] == 0

    after = await client.get(url, headers=partner.headers)
    assert after.status_code == 200
    assert after.json()["data"] == agent


def _swap(value, old: str, new: str):
    if isinstance(value, dict):
        return {k: _swap(v, old, new) for k, v in value.items()}
    if isinstance(value, str):
        return value.replace(old, new)
    return value


# --- voices -------------------------------------------------------------------------------------


async def test_voice_catalog(client, partner):
    response = await client.get(f"{API}/agent/voices", headers=partner.headers)
    assert response.status_code == 200
    body = response.json()
    expected = [v.public() for v in installed_voices()]
    assert expected, "the test install ships at least one voice"
    assert body == {
        "success": True,
        "data": expected,
        "pagination": {"limit": len(expected), "offset": 0, "total": len(expected)},
    }
    assert set(body["data"][0]) == {
        "voice_id",
        "name",
        "language",
        "locale",
        "gender",
        "engine",
        "sample_rate",
        "description",
    }


async def test_a_script_is_stored_and_validated(client, partner):
    script = {"replies": [{"text": "Booked.", "end_call": True}], "fallback": "Sorry?"}
    data = await created(client, partner, agent_name="scripted", script=script)
    assert data["script"] == {"replies": [{"text": "Booked.", "end_call": True}], "rules": [], "fallback": "Sorry?"}
    response = await create(client, partner, agent_name="bad script", script={"replies": [{"text": ""}]})
    assert validation_error(response, "script.replies.0.text")
