"""PUT /config/telephony/{provider}: validation, verification with the carrier, sealing, tenancy.

Carriers are the carrier simulator, reached over real HTTP.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from sqlalchemy import select, text

from callwright.domain.providers import Provider
from callwright.services.telephony import open_secrets
from callwright.store.models import Base, TelephonyConnection
from tests.conftest import error_of, make_partner

VOBIZ = {"auth_id": "MA_XXXXXXXX", "auth_token": "vobiz-token-9f8e7d6c5b4a", "from_number": "+918011223344"}
PLIVO = {"auth_id": "MAABCDEFGHIJ12345678", "auth_token": "plivo-token-1a2b3c4d", "from_number": "+14155550100"}
TWILIO = {
    "account_sid": "AC" + "0123456789abcdef" * 2,
    "auth_token": "twilio-token-5e6f7a8b",
    "from_number": "+14155550101",
}
EXOTEL = {
    "account_sid": "acme1",
    "api_key": "exotel-key-77aa",
    "api_token": "exotel-token-88bb",
    "subdomain": "api.in.exotel.com",
    "caller_id": "+918047112345",
    "applet_id": "123456",
}
MCUBE = {"jwt_token": "mcube-jwt-eyJhbGciOi.secret", "exe_number": "9876543210"}
SECRETS = {
    "vobiz": ["auth_token"],
    "plivo": ["auth_token"],
    "twilio": ["auth_token"],
    "exotel": ["api_key", "api_token"],
    "mcube": ["jwt_token"],
}
BODIES = {"vobiz": VOBIZ, "plivo": PLIVO, "twilio": TWILIO, "exotel": EXOTEL, "mcube": MCUBE}


@pytest.fixture
def settings(settings, sim):
    """Point every carrier's REST base URL at the simulator."""
    urls = sim.api_urls()
    return settings.model_copy(
        update={
            "vobiz_api_url": urls["vobiz"],
            "plivo_api_url": urls["plivo"],
            "twilio_api_url": urls["twilio"],
            "exotel_api_url": urls["exotel"],
            "mcube_api_url": urls["mcube"],
        }
    )


@pytest.fixture(autouse=True)
def carrier_accounts(sim):
    for provider, body in BODIES.items():
        if provider == "mcube":
            continue
        extra = {"exophones": [EXOTEL["caller_id"]]} if provider == "exotel" else {}
        sim.add_account(provider, **{k: body[k] for k in _credential_fields(provider)}, **extra)


def _credential_fields(provider: str) -> list[str]:
    return {
        "vobiz": ["auth_id", "auth_token"],
        "plivo": ["auth_id", "auth_token"],
        "twilio": ["account_sid", "auth_token"],
        "exotel": ["account_sid", "api_key", "api_token"],
    }[provider]


async def _put(client, partner, provider, body):
    return await client.put(f"/api/v2/config/telephony/{provider}", json=body, headers=partner.headers)


async def test_seed_vobiz_put_then_get_config(client, partner):
    response = await _put(client, partner, "vobiz", VOBIZ)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "data": {
            "auth_id": "MA_X****XXXX",
            "from_number": "+918011223344",
            "message": "Vobiz credentials updated successfully.",
        },
    }
    config = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]
    assert config["telephony"]["vobiz"] == {
        "configured": True,
        "auth_id": "conf****ured",
        "from_number": "+918011223344",
    }


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("plivo", {"auth_id": "MAAB****5678", "from_number": "+14155550100"}),
        ("twilio", {"account_sid": "AC01****cdef", "from_number": "+14155550101"}),
        (
            "exotel",
            {
                "account_sid": "conf****ured",
                "subdomain": "api.in.exotel.com",
                "caller_id": "+918047112345",
                "applet_id": "123456",
            },
        ),
    ],
)
async def test_each_verified_provider(client, partner, provider, expected):
    response = await _put(client, partner, provider, BODIES[provider])
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    name = Provider(provider).display_name
    if provider == "exotel":
        # The URL for the flow's Voicebot applet (tests/carriers/fidelity/test_exotel_fidelity.py).
        assert "/telephony/exotel/voicebot/" in data.pop("voicebot_url")
    assert data == expected | {"message": f"{name} credentials updated successfully."}
    config = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]
    entry = config["telephony"][provider]
    assert entry["configured"] is True
    assert entry.get("auth_id", entry.get("account_sid")) == "conf****ured"


async def test_mcube_is_stored_and_says_it_was_not_verified(client, partner, sim):
    before = len(sim.requests())
    response = await _put(client, partner, "mcube", MCUBE)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["exe_number"] == "9876543210"
    assert data["verified"] is False
    assert "not verified" in data["message"]
    assert len(sim.requests()) == before  # no request reached any carrier
    config = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]
    assert config["telephony"]["mcube"] == {"configured": True, "exe_number": "9876543210"}


@pytest.mark.parametrize(
    ("provider", "body", "field", "message"),
    [
        ("vobiz", VOBIZ | {"from_number": "918011223344"}, "from_number",
         "from_number must be E.164, like +919876543210"),
        ("vobiz", VOBIZ | {"from_number": "+91801122"}, "from_number",
         "from_number must be E.164, like +919876543210"),
        ("vobiz", VOBIZ | {"auth_id": "XX_12345678"}, "auth_id", "auth_id must look like MA_XXXXXXXX"),
        ("plivo", PLIVO | {"auth_id": "MA123"}, "auth_id", "auth_id must be MA or SA followed by 18"),
        ("twilio", TWILIO | {"account_sid": "AC123"}, "account_sid",
         "account_sid must be AC followed by 32 hex digits"),
        ("twilio", TWILIO | {"auth_token": ""}, "auth_token", "auth_token"),
        ("exotel", EXOTEL | {"subdomain": "evil.example.com"}, "subdomain",
         "subdomain must be one of 'api.exotel.com' or 'api.in.exotel.com'"),
        ("exotel", EXOTEL | {"caller_id": "12"}, "caller_id", "caller_id"),
        ("mcube", MCUBE | {"exe_number": "123"}, "exe_number", "exe_number must be a valid phone number"),
    ],
)
async def test_field_rules_give_400_naming_the_field(client, partner, provider, body, field, message):
    response = await _put(client, partner, provider, body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["reason"] == "validation_error"
    assert error["message"].startswith(message)
    assert [d["field"] for d in error["details"]] == [field]


async def test_missing_and_unknown_fields(client, partner):
    body = {k: v for k, v in VOBIZ.items() if k != "auth_token"} | {"region": "in"}
    error = error_of(await _put(client, partner, "vobiz", body))
    messages = {d["field"]: d["message"] for d in error["details"]}
    assert messages == {"auth_token": "auth_token is required", "region": "region is not a known field"}


async def test_body_must_be_a_json_object(client, partner):
    response = await client.put(
        "/api/v2/config/telephony/vobiz", content=b"[1, 2]", headers=partner.headers
        | {"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["message"] == "the request body must be a JSON object"
    response = await client.put(
        "/api/v2/config/telephony/vobiz", content=b'{"auth_id": ', headers=partner.headers
        | {"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["reason"] == "invalid_json"


async def test_unknown_provider_is_404(client, partner):
    response = await _put(client, partner, "voicelink", VOBIZ)
    assert response.status_code == 404
    assert error_of(response)["reason"] == "unknown_provider"


@pytest.mark.parametrize(
    ("provider", "carrier_words"),
    [
        ("vobiz", "Vobiz rejected the Auth ID / Auth Token"),
        ("plivo", "Plivo rejected"),
        ("twilio", "Twilio rejected"),
        ("exotel", "Exotel rejected"),
    ],
)
async def test_carrier_rejects_credentials_400_and_nothing_stored(
    client, partner, provider, carrier_words, caplog
):
    secret_field = SECRETS[provider][-1]
    body = BODIES[provider] | {secret_field: "wrong-secret-value-1234"}
    with caplog.at_level(logging.DEBUG):
        response = await _put(client, partner, provider, body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["reason"] == "carrier_auth_failed"
    assert error["message"].startswith(carrier_words)
    assert "wrong-secret-value-1234" not in response.text
    assert "wrong-secret-value-1234" not in caplog.text
    config = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]
    assert config["telephony"][provider]["configured"] is False


async def test_carrier_down_is_502_and_previous_credentials_survive(client, partner, sim, platform):
    assert (await _put(client, partner, "vobiz", VOBIZ)).status_code == 200
    sim.add_account("vobiz", auth_id="MA_NEWACCT1", auth_token="new-token-abc")
    sim.inject_fault("vobiz", status=503, count=1)
    response = await _put(
        client, partner, "vobiz",
        {"auth_id": "MA_NEWACCT1", "auth_token": "new-token-abc", "from_number": "+919876543210"},
    )
    assert response.status_code == 502
    assert error_of(response)["reason"] == "carrier_unavailable"
    connection = await _connection(platform, partner.id, "vobiz")
    assert connection.identifiers["auth_id"] == VOBIZ["auth_id"]
    assert open_secrets(connection, secretbox=platform.secretbox) == {"auth_token": VOBIZ["auth_token"]}


async def test_carrier_unreachable_is_502(client, partner, platform):
    # Port 9 (discard) has no listener here: the connection is refused.
    platform.endpoints = replace(platform.endpoints, vobiz="http://127.0.0.1:9/api/v1")
    response = await _put(client, partner, "vobiz", VOBIZ)
    assert response.status_code == 502
    assert "Vobiz could not be reached" in error_of(response)["message"]


async def test_resending_replaces_credentials(client, partner, sim, platform):
    assert (await _put(client, partner, "vobiz", VOBIZ)).status_code == 200
    first = await _connection(platform, partner.id, "vobiz")
    sim.add_account("vobiz", auth_id=VOBIZ["auth_id"], auth_token="rotated-token-42")
    rotated = VOBIZ | {"auth_token": "rotated-token-42", "from_number": "+919876543210"}
    assert (await _put(client, partner, "vobiz", rotated)).status_code == 200
    second = await _connection(platform, partner.id, "vobiz")
    assert second.id == first.id
    assert second.identifiers["from_number"] == "+919876543210"
    assert open_secrets(second, secretbox=platform.secretbox) == {"auth_token": "rotated-token-42"}


async def test_provider_not_allowed_can_still_be_staged(client, platform):
    handle = await make_partner(platform, "staging-co", providers=["twilio"])
    response = await _put(client, handle, "vobiz", VOBIZ)
    assert response.status_code == 200
    config = (await client.get("/api/v2/config", headers=handle.headers)).json()["data"]
    assert config["allowed_telephony_providers"] == ["twilio"]
    assert config["telephony"]["vobiz"]["configured"] is True


async def test_secrets_never_stored_in_plaintext(client, partner, platform, settings):
    for provider, body in BODIES.items():
        assert (await _put(client, partner, provider, body)).status_code == 200, provider
    secrets = [BODIES[p][f] for p, fields in SECRETS.items() for f in fields]
    dump = await _database_text(platform, settings)
    assert "MA_XXXXXXXX" in dump  # the dump does see stored data…
    for secret in secrets:
        assert secret not in dump  # …but no secret in the clear
    config = await client.get("/api/v2/config", headers=partner.headers)
    for secret in secrets:
        assert secret not in config.text


async def test_partner_b_cannot_see_or_change_partner_a_credentials(client, partner, other_partner, platform):
    assert (await _put(client, partner, "vobiz", VOBIZ)).status_code == 200
    b_config = (await client.get("/api/v2/config", headers=other_partner.headers)).json()["data"]
    assert b_config["telephony"]["vobiz"]["configured"] is False
    b_body = VOBIZ | {"from_number": "+919876543210"}
    assert (await _put(client, other_partner, "vobiz", b_body)).status_code == 200
    a_connection = await _connection(platform, partner.id, "vobiz")
    assert a_connection.identifiers["from_number"] == "+918011223344"
    a_config = (await client.get("/api/v2/config", headers=partner.headers)).json()["data"]
    assert a_config["telephony"]["vobiz"]["from_number"] == "+918011223344"


async def _connection(platform, partner_id, provider) -> TelephonyConnection:
    async with platform.sessions() as session:
        return await session.scalar(
            select(TelephonyConnection).where(
                TelephonyConnection.partner_id == partner_id,
                TelephonyConnection.provider == provider,
            )
        )


async def _database_text(platform, settings) -> str:
    """Everything the database holds, as text: the SQLite files' bytes, or every PostgreSQL row."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        from pathlib import Path

        path = Path(url.split("///", 1)[1])
        files = [path, path.with_name(path.name + "-wal")]
        return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
    async with platform.engine.connect() as conn:
        chunks = []
        for table in Base.metadata.sorted_tables:
            rows = await conn.execute(text(f"SELECT t::text FROM {table.name} AS t"))
            chunks += [row[0] for row in rows]
        return "\n".join(chunks)
