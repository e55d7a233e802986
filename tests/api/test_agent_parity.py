"""Agent fields as the Vocobase docs list them: every documented field accepted with its limits;
null, false and the defaults ask for nothing. (Every documented field is built: the
FEATURE_NOT_AVAILABLE mechanism for unbuilt ones is tested in test_agent_field_list.py.)"""

from __future__ import annotations

import pytest

from callwright.voice.ambience import CURATED
from callwright.voice.catalog import installed_voices
from tests.conftest import error_of

API = "/api/v2"
SOME_UUID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"

# Values that ask for nothing: accepted, and the response shows the defaults.
INERT = [
    ("transfer_enabled", False),
    ("transfer_enabled", None),
    ("transferEnabled", False),
    ("transfer_number", None),
    ("transfer_number", ""),
    ("transferMessage", None),
    ("transfer_instructions", ""),
    ("kb_threshold", None),
    ("kb_threshold", "medium"),
    ("kb_include_summaries", False),
    ("kb_include_summaries", None),
    ("kb_result_format", None),
    ("kb_enable_llm_processing", False),
    ("kb_llm_system_prompt", ""),
    ("background_audio_id", None),
    ("background_audio_volume", 0.5),
    ("background_audio_volume", None),
    ("extraction_config", None),
]


async def create(client, handle, **fields):
    body = {"agent_name": "Receptionist", **fields}
    return await client.post(f"{API}/agent", json=body, headers=handle.headers)


@pytest.mark.parametrize(("field", "value"), INERT)
async def test_null_false_and_default_values_are_accepted(client, partner, field, value):
    response = await create(client, partner, **{field: value})
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    default = (await create(client, partner, agent_name="plain")).json()["data"]
    different = {k for k in data if data[k] != default[k]} - {"id", "agent_name", "created_at", "updated_at"}
    assert different == set()
    updated = await client.put(f"{API}/agent/{data['id']}", json={field: value}, headers=partner.headers)
    assert updated.status_code == 200, updated.text


async def test_llm_processing_is_refused_on_a_server_without_an_llm(client, partner):
    # The test server has no LLM configured: accepting the switch would leave it off on calls.
    refused = await create(client, partner, kb_enable_llm_processing=True, kb_llm_system_prompt="Summarise.")
    assert refused.status_code == 400, refused.text
    error = error_of(refused)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith("kb_enable_llm_processing needs an LLM on this server")
    assert error["details"][0]["field"] == "kb_enable_llm_processing"
    assert (await client.get(f"{API}/agents", headers=partner.headers)).json()["pagination"]["total"] == 0
    agent = (await create(client, partner, kb_llm_system_prompt="Summarise.")).json()["data"]
    assert (agent["kb_enable_llm_processing"], agent["kb_llm_system_prompt"]) == (False, "Summarise.")
    url = f"{API}/agent/{agent['id']}"
    refused = await client.put(url, json={"kb_enable_llm_processing": True}, headers=partner.headers)
    assert refused.status_code == 400 and error_of(refused)["details"][0]["field"] == "kb_enable_llm_processing"
    assert (await client.get(url, headers=partner.headers)).json()["data"] == agent


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kb_threshold", "very"),
        ("kb_include_summaries", "yes"),
        ("background_audio_id", "not-a-uuid"),
        ("background_audio_volume", 1.5),
    ],
)
async def test_invalid_values_are_validation_errors(client, partner, field, value):
    response = await create(client, partner, **{field: value})
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"


# --- project_id -----------------------------------------------------------------------------------


async def test_a_malformed_project_id_is_a_validation_error(client, partner):
    response = await create(client, partner, project_id="default")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"] == "project_id must be a UUID, like 3c90c3cc-0d44-4b50-8888-8dd25736052a"


# --- the docs' create-an-agent example -------------------------------------------------------------


def docs_example() -> dict:
    """The fields of the create-an-agent page's request example (its voice id is a Vocobase
    catalog id: ours come from GET /agent/voices)."""
    return {
        "agent_name": "Sales Assistant",
        "prompt": "You are a helpful sales assistant.",
        "voice_id": installed_voices()[0].voice_id,
        "intro_message": "Hello! How can I help?",
        "voicemail_detection_enabled": True,
        "voicemail_message": "Sorry we missed you.",
        "project_id": SOME_UUID,
        "enable_recording": False,
        "kb_threshold": "medium",
        "kb_include_summaries": False,
        "kb_result_format": "{content}",
        "kb_enable_llm_processing": False,
        "kb_llm_system_prompt": "Summarise the passages.",
        "end_call_enabled": True,
        "end_call_message": "Thanks for calling.",
        "end_call_instructions": "End the call when the caller says goodbye.",
        "transfer_enabled": False,
        "transfer_number": "+14155551234",
        "transfer_message": "Transferring you now.",
        "transfer_instructions": "Transfer when asked for a manager.",
        "max_call_duration_secs": 600,
        "background_audio_id": SOME_UUID,
        "background_audio_volume": 0.5,
    }


async def test_the_docs_example_is_accepted(client, partner):
    body = docs_example()
    # The example's background audio is an asset of the docs' account: one of ours instead.
    body["background_audio_id"] = CURATED[0].id
    response = await client.post(f"{API}/agent", json=body, headers=partner.headers)
    # The example's project is one of the docs' account, not this partner's.
    assert response.status_code == 404 and error_of(response)["reason"] == "project_not_found"
    del body["project_id"]
    response = await client.post(f"{API}/agent", json=body, headers=partner.headers)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    for field, value in body.items():
        assert data[field] == value, field
    assert data["document_count"] == 0 and data["endCallEnabled"] is True
