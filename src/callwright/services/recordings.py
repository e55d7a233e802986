"""Call recordings: record a call whose agent has ``enable_recording``, keep the WAV when its media
ends, and hand out signed, expiring URLs to it that the platform serves itself.

What ``calls.recording_url`` holds: a signed URL minted when the recording was stored, valid for
``recording_url_ttl_secs`` (7 days, as Vocobase's recording URLs), so ``GET /calls/{id}`` and the
``session.completed`` webhook carry a URL a partner can fetch as it is. ``GET
/calls/{id}/recording-url`` mints a fresh one at any time. A call with no ``recording_url`` has no
recording. The recording itself is kept under ``{partner_id}/{call_id}.wav`` in the configured
storage (``callwright.recordings``); changing storage does not move recordings already kept.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.agent_spec import AgentSpec
from callwright.domain.errors import CallwrightError, Forbidden, NotFound
from callwright.domain.recording_urls import (
    UrlCheck,
    check_recording_url,
    recording_path,
    recording_query,
)
from callwright.recordings import RecordingStorage, StorageError
from callwright.services.calls import get_call
from callwright.store.models import Call, Partner

if TYPE_CHECKING:
    from callwright.platform import Platform
    from callwright.voice.recorder import CallRecorder

log = logging.getLogger("callwright.recordings")


def recording_key(call: Call) -> str:
    return f"{call.partner_id}/{call.id}.wav"


def _work_dir(platform: Platform) -> Path:
    """Where recordings in progress and WAVs on their way to storage are written."""
    return platform.settings.var_dir / "recordings-work"


def recorder_for(*, platform: Platform, call: Call) -> CallRecorder | None:
    """A recorder for the call's media when its agent records calls, else None."""
    if not AgentSpec.parse(call.agent).enable_recording:
        return None
    from callwright.voice.pipeline import CARRIER_SAMPLE_RATE
    from callwright.voice.recorder import CallRecorder

    return CallRecorder(_work_dir(platform), sample_rate=CARRIER_SAMPLE_RATE)


async def save_recording(
    *, platform: Platform, call: Call, recorder: CallRecorder | None
) -> str | None:
    """Write the call's stereo WAV, keep it in storage and return the URL to store on the call.
    None when there was nothing to record, or when keeping it failed (logged; the call's outcome
    is stored regardless)."""
    if recorder is None:
        return None
    from callwright.voice.recorder import RecordingFailed

    destination = _work_dir(platform) / f"{call.id}.wav"
    try:
        destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        written = await recorder.finish(destination)
        if written is None:
            return None
        await platform.recordings.put(recording_key(call), written)
    except (RecordingFailed, StorageError, OSError) as exc:
        log.error("call %s: the recording was not kept: %s", call.id, exc)
        destination.unlink(missing_ok=True)
        return None
    url, _ = signed_recording_url(platform=platform, call_id=call.id)
    return url


def signed_recording_url(
    *, platform: Platform, call_id: str, now: float | None = None
) -> tuple[str, datetime]:
    """A fresh signed URL to the call's recording and when it expires."""
    settings = platform.settings
    expires = int(time.time() if now is None else now) + settings.recording_url_ttl_secs
    query = recording_query(platform.recording_keys[0], call_id, expires)
    url = f"{settings.public_url.rstrip('/')}{recording_path(call_id)}?{query}"
    return url, datetime.fromtimestamp(expires, UTC)


def shown_recording_url(*, platform: Platform, call: Call) -> str | None:
    """The recording URL a read of the call shows: freshly signed on every read (a stored one
    expires, 7 days by default), or None when the call has no recording."""
    return signed_recording_url(platform=platform, call_id=call.id)[0] if call.recording_url else None


async def recording_url(
    *, session: AsyncSession, partner: Partner, platform: Platform, call_id: str
) -> dict[str, Any]:
    """``GET /calls/{id}/recording-url``: a freshly signed URL to the partner's call's recording."""
    call = await get_call(session=session, partner=partner, call_id=call_id)
    if call.recording_url is None:
        raise NotFound(_no_recording(call), code="recording_not_found")
    url, expires_at = signed_recording_url(platform=platform, call_id=call.id)
    return {
        "call_id": call.id,
        "recording_url": url,
        "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _no_recording(call: Call) -> str:
    if not AgentSpec.parse(call.agent).enable_recording:
        return f"call {call.id} has no recording: its agent does not have enable_recording on"
    if call.media_started_at is not None and call.media_ended_at is None:
        return f"call {call.id} has no recording yet: the call is still in progress"
    return f"call {call.id} has no recording: no audio was recorded for it"


@dataclass(frozen=True)
class StoredRecording:
    storage: RecordingStorage
    key: str
    size: int
    call_id: str


async def open_recording(
    *,
    session: AsyncSession,
    platform: Platform,
    call_id: str,
    expires: str | None,
    sig: str | None,
) -> StoredRecording:
    """The recording a signed URL opens. The signature is the only credential: 403 when it is
    not valid or has expired (checked before anything is read), 404 when there is no recording."""
    check = check_recording_url(platform.recording_keys, call_id, expires, sig, now=time.time())
    if check is UrlCheck.BAD_SIGNATURE:
        raise Forbidden(
            "this recording URL is not valid: its signature does not match",
            code="recording_url_invalid",
        )
    if check is UrlCheck.EXPIRED:
        raise Forbidden(
            "this recording URL has expired; GET /api/v2/calls/{call_id}/recording-url gives a "
            "fresh one",
            code="recording_url_expired",
        )
    call = await session.get(Call, call_id)
    if call is None or call.recording_url is None:
        raise NotFound(f"call {call_id} has no recording", code="recording_not_found")
    key = recording_key(call)
    try:
        size = await platform.recordings.size(key)
    except StorageError as exc:
        raise CallwrightError(str(exc), code="recording_storage_unavailable", status_code=503) from None
    if size is None:
        raise NotFound(
            f"the recording of call {call_id} is no longer in storage", code="recording_not_found"
        )
    return StoredRecording(platform.recordings, key, size, call_id)
