"""Background-audio rules (Vocobase's ``/agent/background-audio``): the upload limits, the WAV
checks at finalize, and signed, expiring upload and preview URLs served by the platform itself.

A signature is HMAC-SHA256(key, "background-audio:{verb}:{asset_id}:{expires}") under the
recording-URL keys: ``verb`` ``put`` opens one upload for 15 minutes, ``get`` one preview.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
from dataclasses import dataclass

MAX_BYTES = 5 * 1024 * 1024  # 5 MB, Vocobase's limit
MAX_SECS = 300  # 5 minutes
MIME_TYPE = "audio/wav"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,63}$"
LABEL_MAX = 80
UPLOAD_URL_TTL_SECS = 900
ASSETS_PER_PARTNER_MAX = 50  # uploads kept per account (each ≤ 5 MB): storage is shared
PREVIEW_URL_TTL_SECS = 3600
_SLUG = re.compile(SLUG_PATTERN)

STATUS_UPLOADING = "UPLOADING"
STATUS_READY = "READY"
STATUS_FAILED = "FAILED"
# What soundfile calls the sample formats a WAV may hold: PCM or IEEE float.
_PCM_OR_FLOAT = {"PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"}


def slug_problem(slug: str) -> str | None:
    if not _SLUG.fullmatch(slug):
        return "must match ^[a-z0-9][a-z0-9_-]{1,63}$ (2–64 lower-case letters, digits, - or _)"
    return None


def signature(key: bytes, verb: str, asset_id: str, expires: int) -> str:
    digest = hmac.new(key, f"background-audio:{verb}:{asset_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed_query(key: bytes, verb: str, asset_id: str, expires: int) -> str:
    return f"expires={expires}&sig={signature(key, verb, asset_id, expires)}"


def signature_valid(
    keys: list[bytes], verb: str, asset_id: str, expires: str | None, sig: str | None, *, now: float
) -> bool:
    if not sig or expires is None or not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        return False
    expected = [signature(key, verb, asset_id, int(expires)).encode() for key in keys]
    return any(hmac.compare_digest(candidate, sig.encode()) for candidate in expected) and int(expires) > now


@dataclass(frozen=True, slots=True)
class WavFacts:
    duration_secs: float
    sample_rate: int
    channels: int


class WavRefused(ValueError):
    """The upload is not a WAV background audio can use; the message says why, for the partner."""


def check_wav(data: bytes) -> WavFacts:
    """What finalize checks: a RIFF/WAVE file of PCM or IEEE-float samples, mono, at most 5 MB
    and 5 minutes long."""
    import soundfile

    if not data:
        raise WavRefused("nothing was uploaded: PUT the WAV bytes to upload_url first")
    if len(data) > MAX_BYTES:
        raise WavRefused(f"the file is {len(data)} bytes; at most {MAX_BYTES} (5 MB) are allowed")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavRefused("the file is not a WAV (RIFF/WAVE) file; only audio/wav is accepted")
    try:
        info = soundfile.info(io.BytesIO(data))
    except Exception:
        raise WavRefused("the WAV file could not be read (its header or data is damaged)") from None
    if info.subtype not in _PCM_OR_FLOAT:
        raise WavRefused(f"the WAV holds {info.subtype_info} samples; only PCM or IEEE float are accepted")
    if info.channels != 1:
        raise WavRefused(
            f"the WAV has {info.channels} channels; background audio must be mono: downmix it to one "
            "channel first (e.g. sox in.wav -c 1 out.wav)"
        )
    if info.samplerate <= 0 or info.frames <= 0:
        raise WavRefused("the WAV holds no audio")
    duration = info.frames / info.samplerate
    if duration > MAX_SECS:
        raise WavRefused(f"the WAV is {duration:.1f} s long; at most {MAX_SECS} s (5 minutes) are allowed")
    return WavFacts(duration_secs=round(duration, 3), sample_rate=int(info.samplerate), channels=1)
