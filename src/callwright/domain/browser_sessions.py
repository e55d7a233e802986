"""Browser sessions (``POST /sessions/webrtc``): a partner talks to one of its agents from a
browser over WebRTC. Vocobase hands back a Daily room; Callwright hands back an ``offer_url``
where the browser posts its SDP offer and gets the platform's answer (no third party).

The rules here are pure: a session's statuses and their order, how long the browser has to send
its offer, and which offers are refused before any WebRTC work starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

# The browser posts its offer within this long of the start, or the session expires unused.
OFFER_WINDOW_SECS = 120
# After the answer, the peer connection must come up (ICE, DTLS) within this long.
CONNECT_TIMEOUT_SECS = 30.0
# An audio-only offer from a browser is 2–6 KB; video or many candidates add a few more.
MAX_SDP_CHARS = 32_768


class SessionStatus(StrEnum):
    CREATED = "created"  # started; waiting for the browser's offer
    CONNECTING = "connecting"  # the offer was answered; the peer connection is coming up
    IN_PROGRESS = "in_progress"  # connected: the agent is talking
    COMPLETED = "completed"
    FAILED = "failed"  # never connected, or the agent's pipeline failed
    EXPIRED = "expired"  # shown for a session whose offer never came within the window

    @property
    def is_terminal(self) -> bool:
        return self in (SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.EXPIRED)


# Sessions counted against the partner's concurrency limit (a created one only inside its window).
LIVE_STATUSES = (SessionStatus.CREATED, SessionStatus.CONNECTING, SessionStatus.IN_PROGRESS)


def offer_deadline(created_at: datetime) -> datetime:
    return created_at + timedelta(seconds=OFFER_WINDOW_SECS)


def shown_status(status: str, *, created_at: datetime, now: datetime) -> SessionStatus:
    """The status a partner sees: a created session past its offer window has expired."""
    current = SessionStatus(status)
    if current is SessionStatus.CREATED and now >= offer_deadline(created_at):
        return SessionStatus.EXPIRED
    return current


def offer_problem(*, sdp: str, type_: str) -> tuple[str, str] | None:
    """The field of an SDP offer that cannot be answered, and why; None when it may be tried."""
    if type_ != "offer":
        return "type", "type must be \"offer\" (the browser's RTCSessionDescription of its offer)"
    if len(sdp) > MAX_SDP_CHARS:
        return "sdp", f"sdp must be at most {MAX_SDP_CHARS} characters"
    lines = sdp.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "v=0":
        return "sdp", "sdp must be a session description starting with \"v=0\""
    if not any(line.startswith("m=audio ") for line in lines):
        return "sdp", "sdp must offer an audio track (an \"m=audio\" line): the agent talks and listens"
    if "\x00" in sdp:
        return "sdp", "sdp must not contain NUL characters"
    return None
