"""The suppression list: numbers never to be called again, checked before every dial — single
calls (``POST /calls/start`` answers 403 ``number_suppressed``) and campaigns (the contact is
skipped with that reason) alike, and by the dialer once more just before a call leaves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import Responses, error_responses, ok, ok_list
from callwright.api.schemas.suppression import SuppressionCreate, suppression_public
from callwright.api.uploads import read_csv_upload
from callwright.domain.campaign_csv import CsvMapping, CsvProblem, parse_contacts
from callwright.domain.errors import BadRequest, ValidationFailed
from callwright.domain.suppression import ENTRIES_PER_REQUEST_MAX, REASON_MAX, SOURCE_CSV, SOURCE_MAX
from callwright.services import suppression as suppression_service
from callwright.services.suppression import Entry

router = APIRouter(tags=["suppression"])

_ENTRY = {
    "id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
    "phone": "+919876543210",
    "reason": "asked not to be called",
    "source": "api",
    "call_id": None,
    "created_at": "2026-11-28T06:00:00.000000Z",
}
_ONE: Responses = {
    201: {"content": {"application/json": {"example": {"success": True, "data": _ENTRY | {"already_suppressed": False}}}}}
}
_MANY: Responses = {
    200: {
        "content": {
            "application/json": {
                "example": {"success": True, "data": [_ENTRY], "pagination": {"limit": 50, "offset": 0, "total": 1}}
            }
        }
    }
}
_IMPORTED: Responses = {
    200: {"content": {"application/json": {"example": {"success": True, "data": {"added": 980, "already_suppressed": 20}}}}}
}
_DELETED: Responses = {
    200: {"content": {"application/json": {"example": {"success": True, "data": {"id": _ENTRY["id"], "deleted": True}}}}}
}


@router.post(
    "/suppressions",
    status_code=201,
    summary="Suppress a number",
    description="The number (E.164) is never dialled again by this account: single calls to it "
    "are refused with 403 `number_suppressed`, campaign contacts with it are skipped, and a call "
    "to it already queued is withdrawn before it leaves. A number already on the list keeps its "
    "entry (200, `already_suppressed: true`).",
    response_model=None,
    responses=_ONE | error_responses(400, 401),
)
async def add_suppression(
    partner: CurrentPartner, session: SessionDep, body: SuppressionCreate, response: Response
) -> dict[str, Any]:
    added = await suppression_service.add_entries(
        session=session, partner=partner, entries=[Entry(body.phone, body.reason, body.source)]
    )
    entry = await suppression_service.get_entry(session=session, partner=partner, phone=body.phone)
    assert entry is not None
    if not added.added:
        response.status_code = 200
    return ok(suppression_public(entry) | {"already_suppressed": not added.added})


@router.post(
    "/suppressions/csv",
    summary="Import suppressed numbers from a CSV file",
    description="`multipart/form-data`: `file`, a UTF-8 CSV with a header line and the columns "
    "`phone` and, optionally, `reason` and `source` (at most 10,000 rows); `reason` and `source` "
    "form fields give the values for rows that have none (`source` defaults to `csv`). Numbers "
    "already on the list keep their entry.",
    response_model=None,
    responses=_IMPORTED | error_responses(400, 401, 413, 415),
)
async def import_suppressions(partner: CurrentPartner, session: SessionDep, platform: PlatformDep, request: Request) -> dict[str, Any]:
    data, fields = await read_csv_upload(request, platform.settings.campaign_csv_max_bytes, fields=("reason", "source"))
    try:
        rows = parse_contacts(data, CsvMapping(), max_rows=ENTRIES_PER_REQUEST_MAX)
    except CsvProblem as exc:
        raise BadRequest(
            exc.problems[0], code="invalid_csv", details=[{"field": "file", "message": p} for p in exc.problems]
        ) from None
    entries = []
    for row in rows:
        reason = row.metadata.get("reason") or fields.get("reason")
        source = row.metadata.get("source") or fields.get("source") or SOURCE_CSV
        if reason is not None and len(reason) > REASON_MAX:
            raise ValidationFailed("file", f"line {row.line}: reason must be at most {REASON_MAX} characters")
        if len(source) > SOURCE_MAX:
            raise ValidationFailed("file", f"line {row.line}: source must be at most {SOURCE_MAX} characters")
        entries.append(Entry(row.phone, reason, source, where=f"line {row.line}: phone", field="file"))
    added = await suppression_service.add_entries(session=session, partner=partner, entries=entries)
    return ok({"added": added.added, "already_suppressed": added.already_suppressed})


@router.get(
    "/suppressions",
    summary="List suppressed numbers",
    description="Newest first; `phone` finds one number's entry.",
    response_model=None,
    responses=_MANY | error_responses(401),
)
async def list_suppressions(
    partner: CurrentPartner,
    session: SessionDep,
    phone: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    entries, total = await suppression_service.list_entries(
        session=session, partner=partner, phone=phone, limit=limit, offset=offset
    )
    return ok_list([suppression_public(e) for e in entries], limit=limit, offset=offset, total=total)


@router.delete(
    "/suppressions/{suppression_id}",
    summary="Remove a number from the suppression list",
    description="The number may be called again.",
    response_model=None,
    responses=_DELETED | error_responses(401, 404),
)
async def delete_suppression(
    partner: CurrentPartner,
    session: SessionDep,
    suppression_id: Annotated[str, Path(description="The entry's id")],
) -> dict[str, Any]:
    deleted = await suppression_service.delete_entry(session=session, partner=partner, suppression_id=suppression_id)
    return ok({"id": deleted, "deleted": True})
