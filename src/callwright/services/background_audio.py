"""Background audio: the curated assets every partner sees, a partner's own uploads (mint a signed
upload URL, PUT the WAV, finalize), and the bed a call's agent plays under its voice.

Uploads are kept in the recordings storage (a local directory, or S3 when configured) under
``background-audio/{partner_id}/{asset_id}.wav``, so a call can only ever load its own partner's
asset. The platform itself serves the signed upload and preview URLs.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain import background_audio as rules
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.errors import CallwrightError, Conflict, Forbidden, NotFound, ValidationFailed
from callwright.recordings import StorageError
from callwright.services.webhook_outbox import iso_utc
from callwright.store.models import Agent, BackgroundAudio, Partner, new_id
from callwright.voice import ambience

if TYPE_CHECKING:
    from callwright.platform import Platform
    from callwright.voice.background import BackgroundLoop, BackgroundMixer

log = logging.getLogger("callwright.background_audio")

UPLOAD_PATH = "/uploads/background-audio"
LOOP_CACHE_SIZE = 32  # decoded uploads kept per process (≤ 5 min of 8 kHz int16: ≤ 4.8 MB each)


class BackgroundAudioInvalid(CallwrightError):
    status_code = 400
    code = "background_audio_invalid"


def storage_key(partner_id: str, asset_id: str) -> str:
    return f"background-audio/{partner_id}/{asset_id}.wav"


def _signed_url(platform: Platform, verb: str, asset_id: str, ttl: int, suffix: str = "") -> str:
    expires = int(time.time()) + ttl
    query = rules.signed_query(platform.recording_keys[0], verb, asset_id, expires)
    return f"{platform.settings.public_url.rstrip('/')}{UPLOAD_PATH}/{asset_id}{suffix}?{query}"


def curated_view(asset: ambience.Ambience, platform: Platform) -> dict[str, Any]:
    return {
        "id": asset.id, "slug": asset.slug, "label": asset.label, "is_platform": True,
        "status": rules.STATUS_READY, "duration_secs": float(ambience.LOOP_SECS), "sample_rate": 8000,
        "channels": 1, "size_bytes": None, "error": None,
        "preview_url": _signed_url(platform, "get", asset.id, rules.PREVIEW_URL_TTL_SECS, ".wav"),
        "created_at": None, "updated_at": None,
    }


def asset_view(row: BackgroundAudio, platform: Platform) -> dict[str, Any]:
    ready = row.status == rules.STATUS_READY
    return {
        "id": row.id, "slug": row.slug, "label": row.label, "is_platform": False, "status": row.status,
        "duration_secs": row.duration_secs, "sample_rate": row.sample_rate, "channels": row.channels,
        "size_bytes": row.size_bytes, "error": row.error,
        "preview_url": _signed_url(platform, "get", row.id, rules.PREVIEW_URL_TTL_SECS, ".wav") if ready else None,
        "created_at": iso_utc(row.created_at), "updated_at": iso_utc(row.updated_at),
    }


async def mint_upload(
    *, session: AsyncSession, partner: Partner, platform: Platform, slug: str, label: str, size_bytes: int
) -> dict[str, Any]:
    """Step 1 of an upload: a new asset (UPLOADING) and a 15-minute signed PUT URL for its WAV."""
    if any(asset.slug == slug for asset in ambience.CURATED):
        raise Conflict(f"the slug {slug!r} is taken by a platform asset; pick another", code="slug_taken")
    # Serialise mints per partner so the limit holds (as functions do).
    await session.execute(select(Partner.id).where(Partner.id == partner.id).with_for_update())
    count = await session.scalar(
        select(func.count()).select_from(BackgroundAudio).where(BackgroundAudio.partner_id == partner.id)
    )
    if (count or 0) >= rules.ASSETS_PER_PARTNER_MAX:
        raise Conflict(
            f"at most {rules.ASSETS_PER_PARTNER_MAX} background-audio uploads per account; delete one first",
            code="background_audio_limit_reached",
        )
    row = BackgroundAudio(id=new_id(), partner_id=partner.id, slug=slug, label=label, size_bytes=size_bytes)
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"the slug {slug!r} is taken; slugs are unique across all assets", code="slug_taken") from None
    return {
        "id": row.id,
        "upload_url": _signed_url(platform, "put", row.id, rules.UPLOAD_URL_TTL_SECS),
        "expires_in": rules.UPLOAD_URL_TTL_SECS,
    }


async def _row_by_id(session: AsyncSession, asset_id: str) -> BackgroundAudio | None:
    return await session.scalar(select(BackgroundAudio).where(BackgroundAudio.id == asset_id))


async def upload_target(*, session: AsyncSession, platform: Platform, asset_id: str, expires: str | None,
                        sig: str | None) -> BackgroundAudio:
    """The asset a signed PUT URL opens (403 for a bad or expired signature, before any byte is read)."""
    if not rules.signature_valid(platform.recording_keys, "put", asset_id, expires, sig, now=time.time()):
        raise Forbidden("this upload URL is not valid or has expired; mint a new one", code="upload_url_invalid")
    row = await _row_by_id(session, asset_id)
    if row is None:
        raise NotFound("no such upload", code="background_audio_not_found")
    if row.status != rules.STATUS_UPLOADING:
        raise Conflict("this asset is already finalized; mint a new upload", code="upload_finalized")
    return row


async def store_upload(*, platform: Platform, row: BackgroundAudio, data: bytes) -> None:
    path = await asyncio.to_thread(_write_temporary, platform.settings.var_dir / "uploads-work", data)
    try:
        await platform.recordings.put(storage_key(row.partner_id, row.id), path)
    except (StorageError, OSError) as exc:
        path.unlink(missing_ok=True)
        raise CallwrightError(f"the upload could not be stored: {exc}", code="storage_unavailable", status_code=503) from None


def _write_temporary(directory: Path, data: bytes) -> Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=directory, suffix=".wav")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    return Path(name)


async def _stored_bytes(platform: Platform, key: str, limit: int) -> bytes | None:
    size = await platform.recordings.size(key)
    if size is None:
        return None
    chunks, seen = [], 0
    async for chunk in platform.recordings.read(key, end=min(size, limit + 1) - 1):
        chunks.append(chunk)
        seen += len(chunk)
    return b"".join(chunks)


async def get_own(*, session: AsyncSession, partner: Partner, asset_id: str) -> BackgroundAudio:
    row = await session.scalar(
        select(BackgroundAudio).where(BackgroundAudio.id == asset_id, BackgroundAudio.partner_id == partner.id)
    )
    if row is None:
        raise NotFound(f"no background audio with id {asset_id!r}", code="background_audio_not_found")
    return row


async def finalize(*, session: AsyncSession, partner: Partner, platform: Platform, asset_id: str) -> BackgroundAudio:
    """Step 3: check the uploaded WAV; READY with its facts, or FAILED with why (then 400)."""
    row = await get_own(session=session, partner=partner, asset_id=asset_id)
    if row.status == rules.STATUS_READY:
        return row
    try:
        data = await _stored_bytes(platform, storage_key(row.partner_id, row.id), rules.MAX_BYTES)
    except StorageError as exc:
        raise CallwrightError(f"the upload could not be read: {exc}", code="storage_unavailable", status_code=503) from None
    try:
        facts = rules.check_wav(data or b"")
    except rules.WavRefused as exc:
        if data:  # nothing uploaded yet: stay UPLOADING, the URL still works
            row.status, row.error = rules.STATUS_FAILED, str(exc)
            await session.commit()
        raise BackgroundAudioInvalid(f"background audio refused: {exc}", details={"id": row.id, "status": row.status}) from None
    row.status, row.error = rules.STATUS_READY, None
    row.duration_secs, row.sample_rate, row.channels = facts.duration_secs, facts.sample_rate, facts.channels
    await session.commit()
    await session.refresh(row)
    return row


async def list_assets(*, session: AsyncSession, partner: Partner, platform: Platform) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(BackgroundAudio).where(BackgroundAudio.partner_id == partner.id).order_by(BackgroundAudio.created_at)
    )
    return [curated_view(a, platform) for a in ambience.CURATED] + [asset_view(r, platform) for r in rows]


async def get_asset(*, session: AsyncSession, partner: Partner, platform: Platform, asset_id: str) -> dict[str, Any]:
    curated = ambience.CURATED_BY_ID.get(asset_id)
    if curated is not None:
        return curated_view(curated, platform)
    return asset_view(await get_own(session=session, partner=partner, asset_id=asset_id), platform)


async def delete_asset(*, session: AsyncSession, partner: Partner, platform: Platform, asset_id: str) -> str:
    """Delete one of the partner's uploads and turn background audio off on the agents that used it."""
    if asset_id in ambience.CURATED_BY_ID:
        raise Forbidden("platform assets cannot be deleted", code="platform_asset")
    row = await get_own(session=session, partner=partner, asset_id=asset_id)
    for agent in await session.scalars(select(Agent).where(Agent.partner_id == partner.id)):
        settings = dict(agent.settings or {})
        if settings.get("background_audio_id") == asset_id:
            settings["background_audio_id"] = None
            agent.settings = settings
    await session.delete(row)
    await session.commit()
    try:
        await platform.recordings.delete(storage_key(partner.id, asset_id))
    except StorageError as exc:
        log.warning("background audio %s: the stored file was not removed: %s", asset_id, exc)
    _LOOPS.pop(asset_id, None)
    return asset_id


async def check_attachable(*, session: AsyncSession, partner_id: str, asset_id: str | None) -> None:
    """``background_audio_id`` names a curated asset or one of the partner's READY uploads."""
    if asset_id is None or asset_id in ambience.CURATED_BY_ID:
        return
    status = await session.scalar(
        select(BackgroundAudio.status).where(BackgroundAudio.id == asset_id, BackgroundAudio.partner_id == partner_id)
    )
    if status is None:
        raise ValidationFailed(
            "background_audio_id", "background_audio_id names no background audio of this account "
            "(see GET /api/v2/agent/background-audio)",
        )
    if status != rules.STATUS_READY:
        raise ValidationFailed(
            "background_audio_id", f"background_audio_id names an asset that is {status}, not READY; finalize it first"
        )


async def preview_bytes(*, session: AsyncSession, platform: Platform, asset_id: str, expires: str | None,
                        sig: str | None) -> bytes:
    """The asset as a WAV, for a signed preview URL."""
    if not rules.signature_valid(platform.recording_keys, "get", asset_id, expires, sig, now=time.time()):
        raise Forbidden("this preview URL is not valid or has expired", code="preview_url_invalid")
    curated = ambience.CURATED_BY_ID.get(asset_id)
    if curated is not None:
        import wave

        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(ambience.render(asset_id, 8000).tobytes())
        return buffer.getvalue()
    row = await _row_by_id(session, asset_id)
    data = None if row is None else await _stored_bytes(platform, storage_key(row.partner_id, row.id), rules.MAX_BYTES)
    if not data:
        raise NotFound("no such background audio", code="background_audio_not_found")
    return data


# --- the bed a call plays -------------------------------------------------------------------------

_LOOPS: OrderedDict[str, BackgroundLoop] = OrderedDict()


def _decode(asset_id: str, data: bytes, sample_rate: int) -> BackgroundLoop:
    import numpy as np
    import soundfile
    import soxr

    from callwright.voice.background import BackgroundLoop

    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if rate != sample_rate:
        samples = soxr.resample(samples, rate, sample_rate)
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16)
    pcm.setflags(write=False)
    return BackgroundLoop(asset_id, sample_rate, pcm)


async def load_loop(*, platform: Platform, partner_id: str, asset_id: str, sample_rate: int) -> BackgroundLoop | None:
    """The asset's loop at ``sample_rate``: curated ones are made in memory, uploads read from the
    partner's own storage path and kept decoded in a small per-process cache."""
    from callwright.voice.background import BackgroundLoop

    if asset_id in ambience.CURATED_BY_ID:
        return await asyncio.to_thread(BackgroundLoop.curated, asset_id, sample_rate)
    cached = _LOOPS.get(asset_id)
    if cached is not None and cached.sample_rate == sample_rate:
        _LOOPS.move_to_end(asset_id)
        return cached
    try:
        data = await _stored_bytes(platform, storage_key(partner_id, asset_id), rules.MAX_BYTES)
    except StorageError as exc:
        log.warning("background audio %s could not be read: %s", asset_id, exc)
        return None
    if not data:
        return None
    loop = await asyncio.to_thread(_decode, asset_id, data, sample_rate)
    _LOOPS[asset_id] = loop
    while len(_LOOPS) > LOOP_CACHE_SIZE:
        _LOOPS.popitem(last=False)
    return loop


def mixer_for_session(
    *, platform: Platform, partner_id: str, spec: AgentSpec, sample_rate: int
) -> tuple[BackgroundMixer | None, asyncio.Task[None] | None]:
    """A session's background mixer (None when its agent has no background audio) and the task
    that loads its loop at ``sample_rate``, the rate the session's leg sends: the session does not
    wait for it, the bed starts once it is loaded."""
    if spec.background_audio_id is None:
        return None, None
    from callwright.voice.background import BackgroundMixer

    mixer = BackgroundMixer(None, volume=spec.background_audio_volume)
    asset_id = spec.background_audio_id

    async def _load() -> None:
        loop = await load_loop(platform=platform, partner_id=partner_id, asset_id=asset_id, sample_rate=sample_rate)
        if loop is not None:
            mixer.set_loop(loop)

    return mixer, asyncio.create_task(_load())
