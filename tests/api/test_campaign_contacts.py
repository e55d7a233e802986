"""A campaign's contacts: JSON and CSV adds (duplicates, the contact book, E.164, bounds), the
listing with attempts, and the results CSV round trip."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.api.campaign_support import add_contacts, create_campaign, numbers, ready_partner
from tests.conftest import error_of


@pytest.fixture
async def agent(client, platform, partner) -> str:
    return await ready_partner(client, platform, partner)


async def test_added_duplicates_and_the_contact_book(client, partner, agent):
    first = (await create_campaign(client, partner, agent))["campaign_id"]
    a, b, c, d = numbers(4)
    answer = await add_contacts(
        client, partner, first,
        [{"phone": a, "name": "Asha", "metadata": {"tier": "gold"}}, {"phone": b}, {"phone": a, "name": "Again"}],
    )
    assert answer == {"added": 2, "duplicates": 1, "contacts_created": 2, "contacts_existing": 0}
    # Already in the campaign: duplicates. New to the campaign but known to the account: existing.
    answer = await add_contacts(client, partner, first, [{"phone": b}, {"phone": c}])
    assert answer == {"added": 1, "duplicates": 1, "contacts_created": 1, "contacts_existing": 0}
    second = (await create_campaign(client, partner, agent))["campaign_id"]
    answer = await add_contacts(client, partner, second, [{"phone": a}, {"phone": c}, {"phone": d}])
    assert answer == {"added": 3, "duplicates": 0, "contacts_created": 1, "contacts_existing": 2}
    listed = (await client.get(f"/api/v2/campaigns/{first}/contacts", headers=partner.headers)).json()
    assert [(x["phone"], x["name"]) for x in listed["data"]] == [(a, "Asha"), (b, None), (c, None)]
    assert listed["data"][0]["metadata"] == {"tier": "gold"}
    assert listed["data"][0]["state"] == "pending" and listed["data"][0]["attempt_history"] == []
    assert (listed["data"][0]["timezone"], listed["data"][0]["timezone_source"]) == ("Asia/Calcutta", "number")
    assert listed["pagination"]["total"] == 3


async def test_every_number_must_be_e164(client, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    response = await client.post(
        f"/api/v2/campaigns/{cid}/contacts",
        json={"contacts": [{"phone": numbers(1)[0]}, {"phone": "98765 43210"}, {"phone": "+1555"}]},
        headers=partner.headers,
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in error["details"]] == ["contacts[1].phone", "contacts[2].phone"]
    assert error["message"].startswith("contacts[1].phone must be E.164") and "(and 1 more)" in error["message"]
    assert (await client.get(f"/api/v2/campaigns/{cid}", headers=partner.headers)).json()["data"]["total_contacts"] == 0


async def test_request_bounds(client, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    for body in (
        {"contacts": []},
        {"contacts": [{"phone": n} for n in numbers(10_001)]},
        {"contacts": [{"phone": numbers(1)[0], "metadata": {"blob": "x" * 5000}}]},
        {"contacts": [{"phone": numbers(1)[0], "timezone": "Nowhere/City"}]},
        {"contacts": [{"phone": numbers(1)[0], "email": "a@b.c"}]},
    ):
        response = await client.post(f"/api/v2/campaigns/{cid}/contacts", json=body, headers=partner.headers)
        assert response.status_code == 400, body if len(str(body)) < 200 else len(body["contacts"])


async def test_ten_thousand_in_one_request(client, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    answer = await add_contacts(client, partner, cid, [{"phone": n, "metadata": {"i": i}} for i, n in enumerate(numbers(10_000))])
    assert answer == {"added": 10_000, "duplicates": 0, "contacts_created": 10_000, "contacts_existing": 0}
    page = (await client.get(f"/api/v2/campaigns/{cid}/contacts?limit=2&offset=9998", headers=partner.headers)).json()
    assert [c["metadata"]["i"] for c in page["data"]] == [9998, 9999]


async def test_no_contacts_once_finished(client, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    await client.post(f"/api/v2/campaigns/{cid}/cancel", headers=partner.headers)
    response = await client.post(
        f"/api/v2/campaigns/{cid}/contacts", json={"contacts": [{"phone": numbers(1)[0]}]}, headers=partner.headers
    )
    assert (response.status_code, error_of(response)["reason"]) == (409, "campaign_finished")


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


async def _upload(client, partner, cid, data: bytes, mapping=None, **extra):
    form = None if mapping is None else {"mapping": mapping if isinstance(mapping, str) else json.dumps(mapping)}
    return await client.post(
        f"/api/v2/campaigns/{cid}/contacts/csv",
        files={"file": ("contacts.csv", data, "text/csv")},
        data=form,
        headers=partner.headers,
        **extra,
    )


async def test_csv_by_default_maps_phone_name_timezone_and_the_rest_as_variables(client, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    a, b = numbers(2)
    data = "\ufeff" + "Phone,Name,plan,due_date,TimeZone\n" + f"{a},Asha,gold,2026-12-01,Asia/Kolkata\n{b},,silver,,\n\n"
    response = await _upload(client, partner, cid, data.encode())
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"added": 2, "duplicates": 0, "contacts_created": 2, "contacts_existing": 0}
    listed = (await client.get(f"/api/v2/campaigns/{cid}/contacts", headers=partner.headers)).json()["data"]
    assert [(c["phone"], c["name"], c["metadata"]) for c in listed] == [
        (a, "Asha", {"plan": "gold", "due_date": "2026-12-01"}),
        (b, None, {"plan": "silver"}),
    ]
    assert listed[0]["timezone_source"] == "contact"


async def test_csv_with_an_explicit_mapping(client, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    a, b = numbers(2)
    data = _csv([["Mobile", "Full name", "Plan", "Ignored column"], [a, "Asha", "gold", "x"], [b, "Ravi", "silver", "y"]])
    mapping = {"phone": "mobile", "name": "Full name", "variables": {"plan_name": "Plan"}}
    response = await _upload(client, partner, cid, data, mapping)
    assert response.status_code == 200, response.text
    listed = (await client.get(f"/api/v2/campaigns/{cid}/contacts", headers=partner.headers)).json()["data"]
    assert [(c["name"], c["metadata"]) for c in listed] == [("Asha", {"plan_name": "gold"}), ("Ravi", {"plan_name": "silver"})]


async def test_csv_problems_are_named(client, platform, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    a = numbers(1)[0]
    cases = [
        (_csv([["number"], [a]]), None, "no column 'phone'"),
        (_csv([["phone", "First Name"], [a, "Asha"]]), None, "'First Name' cannot be a variable name"),
        (_csv([["phone"], [a], [""]]), None, None),  # blank line: fine
        (_csv([["phone", "x"], ["", "1"]]), None, "line 2: the phone column is empty"),
        (_csv([["phone"], ["0987"]]), None, "line 2: phone must be E.164"),
        (b"phone\n\xff\xfe\n", None, "UTF-8"),
        (b"", None, "the file is empty"),
        (_csv([["phone"]]), None, "no contacts"),
        (_csv([["phone"], [a]]), {"variables": {"bad-name": "phone"}}, "mapping.variables keys must match"),
        (_csv([["phone"], [a]]), {"phone": "mobile"}, "no column 'mobile'"),
        (_csv([["phone", "timezone"], [a, "Mars/Base"]]), None, "line 2: timezone 'Mars/Base'"),
        (_csv([["phone"], [a]]), "not json", "mapping must be JSON"),
    ]
    for data, mapping, words in cases:
        response = await _upload(client, partner, cid, data, mapping)
        if words is None:
            assert response.status_code == 200, response.text
            continue
        assert response.status_code == 400, (words, response.text)
        assert words in error_of(response)["message"], (words, error_of(response)["message"])
    response = await client.post(
        f"/api/v2/campaigns/{cid}/contacts/csv", content=b"phone\n", headers=partner.headers | {"content-type": "text/csv"}
    )
    assert (response.status_code, error_of(response)["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    response = await client.post(f"/api/v2/campaigns/{cid}/contacts/csv", data={"mapping": "{}"}, files={"other": ("a", b"x")}, headers=partner.headers)
    assert response.status_code == 400 and "file is required" in error_of(response)["message"]
    limit = platform.settings.campaign_csv_max_bytes
    big = b"phone\n" + b"+919800000001\n" * (limit // 14 + 10)
    response = await _upload(client, partner, cid, big)
    assert (response.status_code, error_of(response)["code"]) == (413, "PAYLOAD_TOO_LARGE")


async def test_results_csv_round_trips_into_a_new_campaign(client, partner, agent):
    first = (await create_campaign(client, partner, agent))["campaign_id"]
    a, b = numbers(2)
    await add_contacts(
        client, partner, first,
        [{"phone": a, "name": "Asha", "metadata": {"plan": "gold", "visits": 3}}, {"phone": b, "metadata": {"note": "a, b"}}],
    )
    response = await client.get(f"/api/v2/campaigns/{first}/results.csv", headers=partner.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0])[:5] == ["phone", "name", "note", "plan", "visits"]
    assert [(r["phone"], r["name"], r["plan"], r["note"], r["result_state"], r["result_attempts"]) for r in rows] == [
        (a, "Asha", "gold", "", "pending", "0"),
        (b, "", "", "a, b", "pending", "0"),
    ]
    second = (await create_campaign(client, partner, agent))["campaign_id"]
    mapping = {"variables": {"plan": "plan", "note": "note", "visits": "visits"}}
    response = await _upload(client, partner, second, response.content, mapping)
    assert response.json()["data"] == {"added": 2, "duplicates": 0, "contacts_created": 0, "contacts_existing": 2}
    listed = (await client.get(f"/api/v2/campaigns/{second}/contacts", headers=partner.headers)).json()["data"]
    assert [(c["phone"], c["name"], c["metadata"]) for c in listed] == [
        (a, "Asha", {"plan": "gold", "visits": "3"}),
        (b, None, {"note": "a, b"}),
    ]


async def test_list_filters_by_state(client, platform, partner, agent):
    cid = (await create_campaign(client, partner, agent))["campaign_id"]
    await add_contacts(client, partner, cid, [{"phone": n} for n in numbers(3)])
    await client.post(f"/api/v2/campaigns/{cid}/start", headers=partner.headers)
    await client.post(f"/api/v2/campaigns/{cid}/cancel", headers=partner.headers)
    skipped = (await client.get(f"/api/v2/campaigns/{cid}/contacts?state=skipped", headers=partner.headers)).json()
    assert skipped["pagination"]["total"] == 3
    assert {c["result_reason"] for c in skipped["data"]} == {"campaign_canceled"}
    pending = (await client.get(f"/api/v2/campaigns/{cid}/contacts?state=pending", headers=partner.headers)).json()
    assert pending["data"] == []
    response = await client.get(f"/api/v2/campaigns/{cid}/contacts?state=done", headers=partner.headers)
    assert response.status_code == 400
