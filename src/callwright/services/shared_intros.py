"""An intro rendered while the phone rings, shared with whichever node takes the call's media.

The dialer pre-renders a call's intro into its process's speech cache (``media_events.prepare_intro``)
so the greeting starts the moment the stream opens. Any node may accept the stream
(docs/scaling.md), so with Redis the dialing process also leaves the rendered audio there, under a
key naming the voice, sample rate and text, for ``SHARE_SECS`` (longer than any ring); the node
that accepts the stream copies it into its own cache first if it does not hold it. Without Redis
there is one process, and nothing to share. Engines that render nothing ahead (cloud voices, the
fake engine) leave nothing to share.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import TYPE_CHECKING

from callwright.voice.speech_cache import rendered_speech

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.intros")

SHARE_SECS = 15 * 60
FETCH_TIMEOUT_SECS = 0.5  # past this the greeting is rendered live rather than waited for


def intro_key(namespace: str, voice_id: str, sample_rate: int, text: str) -> str:
    digest = hashlib.sha256(f"{voice_id}\0{sample_rate}\0{text}".encode()).hexdigest()
    return f"{namespace}:intro:{digest}"


async def share(platform: Platform, *, voice_id: str, sample_rate: int, text: str) -> bool:
    """Leave this process's rendering of ``text`` in Redis; False when there is none or no Redis."""
    redis, line = platform.control.redis, text.strip()
    audio = rendered_speech().peek(voice_id=voice_id, sample_rate=sample_rate, text=line) if line else None
    if redis is None or audio is None:
        return False
    key = intro_key(platform.settings.redis_namespace, voice_id, sample_rate, line)
    try:
        await redis.set(key, audio, ex=SHARE_SECS)
    except Exception as exc:  # the other node renders it live
        log.warning("could not share a rendered intro: %s", type(exc).__name__)
        return False
    return True


async def fetch(platform: Platform, *, voice_id: str, sample_rate: int, text: str) -> bool:
    """Copy another node's rendering of ``text`` into this process's cache unless it is there;
    True when the cache holds it afterwards."""
    cache, line = rendered_speech(), text.strip()
    if not line:
        return False
    if cache.peek(voice_id=voice_id, sample_rate=sample_rate, text=line) is not None:
        return True
    redis = platform.control.redis
    if redis is None:
        return False
    key = intro_key(platform.settings.redis_namespace, voice_id, sample_rate, line)
    try:
        audio = await asyncio.wait_for(redis.get(key), FETCH_TIMEOUT_SECS)
    except Exception as exc:  # rendered live instead
        log.warning("could not fetch a rendered intro: %s", type(exc).__name__)
        return False
    if not isinstance(audio, bytes) or not audio:
        return False
    cache.put(voice_id=voice_id, sample_rate=sample_rate, text=line, audio=audio)
    return True
