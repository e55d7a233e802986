from datetime import UTC, datetime, timedelta

from callwright.domain.browser_sessions import (
    OFFER_WINDOW_SECS,
    SessionStatus,
    offer_problem,
    shown_status,
)

AUDIO_OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


def test_an_audio_offer_may_be_tried() -> None:
    assert offer_problem(sdp=AUDIO_OFFER, type_="offer") is None


def test_offers_that_cannot_be_answered_name_the_field_and_the_rule() -> None:
    assert offer_problem(sdp=AUDIO_OFFER, type_="answer") == (
        "type", 'type must be "offer" (the browser\'s RTCSessionDescription of its offer)'
    )
    assert offer_problem(sdp="hello", type_="offer")[0] == "sdp"  # type: ignore[index]
    video_only = AUDIO_OFFER.replace("m=audio", "m=video")
    field, rule = offer_problem(sdp=video_only, type_="offer")  # type: ignore[misc]
    assert field == "sdp" and "m=audio" in rule
    assert "at most" in offer_problem(sdp=AUDIO_OFFER + "a=x\r\n" * 10_000, type_="offer")[1]  # type: ignore[index]


def test_a_created_session_expires_when_its_offer_window_passes() -> None:
    created = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    inside = created + timedelta(seconds=OFFER_WINDOW_SECS - 1)
    after = created + timedelta(seconds=OFFER_WINDOW_SECS)
    assert shown_status("created", created_at=created, now=inside) is SessionStatus.CREATED
    assert shown_status("created", created_at=created, now=after) is SessionStatus.EXPIRED
    # Only a session still waiting for its offer expires.
    assert shown_status("in_progress", created_at=created, now=after) is SessionStatus.IN_PROGRESS
    assert SessionStatus.EXPIRED.is_terminal and not SessionStatus.CONNECTING.is_terminal
