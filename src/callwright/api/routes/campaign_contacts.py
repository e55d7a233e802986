"""A campaign's contacts: add them (JSON, or a CSV upload with a column mapping), list them with
their attempts, and download the per-contact results as CSV."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import Responses, error_responses, ok, ok_list
from callwright.api.errors import describe_validation_error
from callwright.api.routes.campaigns import CampaignId
from callwright.api.schemas.campaigns import ContactsBody, CsvMappingBody, contact_public
from callwright.api.uploads import read_csv_upload
from callwright.domain.campaign_csv import CsvMapping, CsvProblem, parse_contacts
from callwright.domain.campaign_windows import is_zone, recipient_zones
from callwright.domain.campaigns import CONTACTS_PER_REQUEST_MAX, ContactState
from callwright.domain.errors import BadRequest, ValidationFailed
from callwright.services import campaign_contacts as contact_service
from callwright.services import campaigns as campaign_service
from callwright.services.campaign_contacts import NewContact

router = APIRouter(tags=["campaigns"])

_ADDED = {"added": 1498, "duplicates": 2, "contacts_created": 1300, "contacts_existing": 198}
_ADDED_RESPONSE: Responses = {200: {"content": {"application/json": {"example": {"success": True, "data": _ADDED}}}}}
_CONTACT = {
    "contact_id": "f0e1d2c3-b4a5-4968-8776-655443322110",
    "phone": "+919876543210",
    "name": "Asha Kumar",
    "metadata": {"tier": "gold"},
    "state": "pending",
    "attempts": 1,
    "last_outcome": "busy",
    "result_reason": None,
    "next_attempt_at": "2026-11-28T05:40:00.000000Z",
    "timezone": "Asia/Calcutta",
    "timezone_source": "number",
    "call_id": None,
    "finished_at": None,
    "created_at": "2026-11-27T11:05:00.000000Z",
    "attempt_history": [
        {
            "number": 1,
            "call_id": "0b7c6a9e-4f2d-4c1e-9a55-3f1f2f0a7c11",
            "outcome": "busy",
            "counted": True,
            "started_at": "2026-11-28T05:30:00.000000Z",
            "ended_at": "2026-11-28T05:30:09.000000Z",
        }
    ],
}

_LIST_RESPONSE: Responses = {
    200: {
        "content": {
            "application/json": {
                "example": {"success": True, "data": [_CONTACT], "pagination": {"limit": 50, "offset": 0, "total": 1}}
            }
        }
    }
}
_CSV_RESPONSE: Responses = {
    200: {
        "content": {
            "text/csv": {
                "example": "phone,name,plan,result_state,result_attempts,result_last_outcome,result_reason,"
                "result_last_call_id,result_last_attempt_at,result_finished_at\n"
                "+919876543210,Asha Kumar,gold,completed,2,answered,answered,"
                "0b7c6a9e-4f2d-4c1e-9a55-3f1f2f0a7c11,2026-11-28T05:40:02.000000Z,2026-11-28T05:41:10.000000Z\n"
            }
        }
    }
}


@router.post(
    "/campaigns/{campaign_id}/contacts",
    summary="Add contacts to a campaign",
    description="1–10,000 contacts `{phone (E.164), name, metadata, timezone}` per request. "
    "`metadata` (and `name`) become the call's `{{variables}}`; `timezone` overrides the zone "
    "derived from the number for the calling windows. A number already in the campaign, or "
    "repeated in the request, counts as a duplicate and is not added again; `contacts_created` "
    "and `contacts_existing` say which numbers were new to, or already in, the account's "
    "contact book. Refused (409 `campaign_finished`) once the campaign is completed or canceled.",
    response_model=None,
    responses=_ADDED_RESPONSE | error_responses(400, 401, 404, 409),
)
async def add_contacts(
    partner: CurrentPartner, session: SessionDep, campaign_id: CampaignId, body: ContactsBody
) -> dict[str, Any]:
    contacts = [
        NewContact(c.phone, c.name, c.metadata, c.timezone, where=f"contacts[{index}].phone", field=f"contacts[{index}].phone")
        for index, c in enumerate(body.contacts)
    ]
    added = await contact_service.add_contacts(
        session=session, partner=partner, campaign_id=campaign_id, contacts=contacts
    )
    return ok(_added(added))


@router.post(
    "/campaigns/{campaign_id}/contacts/csv",
    summary="Add contacts from a CSV file",
    description="`multipart/form-data` with `file` (UTF-8 CSV with a header line, at most "
    "`CALLWRIGHT_CAMPAIGN_CSV_MAX_BYTES`, 5 MB by default, and 10,000 contacts) and an optional "
    "`mapping` (JSON): `{\"phone\": \"Mobile\", \"name\": \"Full name\", \"timezone\": \"TZ\", "
    "\"variables\": {\"plan\": \"Plan\"}}`. By default the `phone`, `name` and `timezone` columns "
    "are those fields and every other column becomes a variable named after its header; with "
    "`variables`, only the columns it maps do. Answers like the JSON form.",
    response_model=None,
    responses=_ADDED_RESPONSE | error_responses(400, 401, 404, 409, 413, 415),
)
async def add_contacts_csv(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, campaign_id: CampaignId, request: Request
) -> dict[str, Any]:
    # The tenant is known (and the campaign found) before a byte of the upload is read.
    await campaign_service.get_campaign(session=session, partner=partner, campaign_id=campaign_id)
    data, fields = await read_csv_upload(request, platform.settings.campaign_csv_max_bytes, fields=("mapping",))
    mapping = _mapping(fields.get("mapping"))
    try:
        rows = parse_contacts(data, mapping, max_rows=CONTACTS_PER_REQUEST_MAX)
    except CsvProblem as exc:
        raise BadRequest(
            exc.problems[0], code="invalid_csv", details=[{"field": "file", "message": p} for p in exc.problems]
        ) from None
    contacts = [
        NewContact(r.phone, r.name, dict(r.metadata), r.timezone, where=f"line {r.line}: phone", field="file")
        for r in rows
    ]
    for row in rows:
        if row.timezone and not is_zone(row.timezone):
            raise ValidationFailed("file", f"line {row.line}: timezone {row.timezone!r} is not an IANA time zone")
    added = await contact_service.add_contacts(
        session=session, partner=partner, campaign_id=campaign_id, contacts=contacts
    )
    return ok(_added(added))


def _mapping(raw: str | None) -> CsvMapping:
    if not raw:
        return CsvMapping()
    try:
        body = CsvMappingBody.model_validate(json.loads(raw))
    except json.JSONDecodeError:
        raise ValidationFailed("mapping", "mapping must be JSON, like {\"phone\": \"Mobile\"}") from None
    except ValidationError as exc:
        detail = describe_validation_error(dict(exc.errors()[0]))
        raise ValidationFailed("mapping", f"mapping.{detail['message']}") from None
    return CsvMapping(phone=body.phone, name=body.name, timezone=body.timezone, variables=body.variables)


def _added(added: contact_service.Added) -> dict[str, int]:
    return {
        "added": added.added,
        "duplicates": added.duplicates,
        "contacts_created": added.contacts_created,
        "contacts_existing": added.contacts_existing,
    }


@router.get(
    "/campaigns/{campaign_id}/contacts",
    summary="List a campaign's contacts",
    description="In the order they were added, each with its state (`pending`, `calling`, "
    "`completed`, `failed`, `skipped`), its attempts and their outcomes, the time zone its "
    "calling windows use and where that came from. Filter by `state`.",
    response_model=None,
    responses=_LIST_RESPONSE | error_responses(401, 404),
)
async def list_contacts(
    partner: CurrentPartner,
    session: SessionDep,
    campaign_id: CampaignId,
    state: ContactState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    campaign, contacts, attempts, total = await contact_service.list_contacts(
        session=session, partner=partner, campaign_id=campaign_id, state=state, limit=limit, offset=offset
    )
    zone = (campaign.schedule or {}).get("timezone")
    data = [
        contact_public(
            c, attempts=attempts[c.id], zone=recipient_zones(c.phone, override=c.timezone, campaign_zone=zone)
        )
        for c in contacts
    ]
    return ok_list(data, limit=limit, offset=offset, total=total)


@router.get(
    "/campaigns/{campaign_id}/results.csv",
    summary="Download the per-contact results",
    description="CSV: `phone`, `name`, one column per metadata key (so the file can be uploaded "
    "again), then `result_state`, `result_attempts`, `result_last_outcome`, `result_reason`, "
    "`result_last_call_id`, `result_last_attempt_at`, `result_finished_at`.",
    response_class=StreamingResponse,
    responses=_CSV_RESPONSE | error_responses(401, 404),
)
async def results_csv(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, campaign_id: CampaignId
) -> StreamingResponse:
    campaign = await campaign_service.get_campaign(session=session, partner=partner, campaign_id=campaign_id)
    return StreamingResponse(
        contact_service.results_csv(platform.sessions, campaign.id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign.id}-results.csv"'},
    )
