"""Call recordings: a fresh signed URL for the partner (``/api/v2/calls/{id}/recording-url``) and
the recording itself, served to whoever holds a valid signed URL (``/recordings/{id}.wav``)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import error_responses, ok
from callwright.api.path_ids import CallId
from callwright.services import recordings

partner_router = APIRouter(tags=["calls"])
router = APIRouter(tags=["recordings"])

_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})")
_WAV_EXAMPLE = "(binary) RIFF/WAVE, PCM 16-bit, 2 channels (caller left, agent right), 8000 Hz"
_URL_EXAMPLE = {
    "success": True,
    "data": {
        "call_id": "0b7c6a9e-4f2d-4c1e-9a55-3f1f2f0a7c11",
        "recording_url": "https://callwright.example.com/recordings/"
        "0b7c6a9e-4f2d-4c1e-9a55-3f1f2f0a7c11.wav?expires=1764583200&sig=…",
        "expires_at": "2026-12-01T10:00:00Z",
    },
}


@partner_router.get(
    "/calls/{call_id}/recording-url",
    summary="A fresh signed URL to the call's recording",
    description="The recording is a dual-channel 8 kHz 16-bit WAV: the caller on the left "
    "channel, the agent on the right, aligned in time. The URL needs no API key and works until "
    "`expires_at` (7 days by default). 404 `recording_not_found` when the call has none (its "
    "agent does not record, or the call never connected).",
    responses={200: {"content": {"application/json": {"example": _URL_EXAMPLE}}}}
    | error_responses(401, 404),
)
async def get_recording_url(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, call_id: CallId
) -> dict[str, Any]:
    return ok(
        await recordings.recording_url(
            session=session, partner=partner, platform=platform, call_id=call_id
        )
    )


@router.get(
    "/recordings/{call_id}.wav",
    summary="Download a call recording (signed URL)",
    description="Served only with a valid, unexpired `expires` + `sig` pair, as handed out by "
    "`GET /api/v2/calls/{id}/recording-url`. Supports a single HTTP byte range.",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {"example": _WAV_EXAMPLE}}},
        206: {"content": {"audio/wav": {"example": _WAV_EXAMPLE}}},
    }
    | error_responses(403, 404, 416, 503),
)
async def download_recording(
    session: SessionDep,
    platform: PlatformDep,
    call_id: str,
    expires: Annotated[str | None, Query(max_length=20)] = None,
    sig: Annotated[str | None, Query(max_length=100)] = None,
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    stored = await recordings.open_recording(
        session=session, platform=platform, call_id=call_id, expires=expires, sig=sig
    )
    await session.close()  # nothing more to read; don't hold a connection while streaming
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{stored.call_id}.wav"',
        "Cache-Control": "private, no-store",
    }
    span = byte_range(range_header, stored.size)
    if span == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{stored.size}"
        return Response(status_code=416, headers=headers)
    status, start, end = 200, 0, stored.size - 1
    if isinstance(span, tuple):
        status, (start, end) = 206, span
        headers["Content-Range"] = f"bytes {start}-{end}/{stored.size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        stored.storage.read(stored.key, start=start, end=end),
        status_code=status,
        media_type="audio/wav",
        headers=headers,
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """A single ``bytes=`` range as inclusive offsets; None to send the whole file (no header, or
    one we don't serve, such as several ranges: RFC 9110 lets a server ignore Range), or
    ``"unsatisfiable"`` (416)."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:  # the last N bytes
        suffix = int(match[2])
        return (max(0, size - suffix), size - 1) if suffix and size else "unsatisfiable"
    start = int(match[1])
    end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end
