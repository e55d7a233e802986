"""How a DND check's answer reads, and how long it is remembered."""

from __future__ import annotations

import pytest

from callwright.domain.dnd import (
    AnswerCache,
    DndConfig,
    OnError,
    Verdict,
    denied_message,
    on_error_verdict,
    read_answer,
)

CONFIG = DndConfig("p1", "https://scrub.example.com/dnd", 1500, OnError.DENY, "whsec_x", "v1")


@pytest.mark.parametrize(
    ("status", "body", "allow"),
    [
        (200, b'{"allow": true}', True),
        (200, b'{"allow": false, "registry": "ncpr"}', False),
        (204, b"", None),
        (500, b'{"allow": true}', None),
        (200, b'{"allow": "no"}', None),
        (200, b"[true]", None),
        (200, b"\xff", None),
    ],
)
def test_only_a_2xx_with_a_boolean_allow_is_an_answer(status, body, allow):
    assert read_answer(status, body) is allow


def test_on_error_decides_a_failed_check():
    assert on_error_verdict(OnError.DENY, "timeout") == Verdict(False, "timeout")
    assert on_error_verdict(OnError.ALLOW, "timeout").allow
    assert "failed (timeout)" in denied_message("+919800000001", Verdict(False, "timeout"))


def test_answers_are_remembered_for_their_ttl_per_partner_and_version():
    now = [0.0]
    cache = AnswerCache(ttl=300, clock=lambda: now[0])
    cache.put(CONFIG, "+919800000001", False)
    assert cache.get(CONFIG, "+919800000001") is False
    assert cache.get(CONFIG, "+919800000002") is None
    other_partner = DndConfig("p2", CONFIG.url, 1500, OnError.DENY, "whsec_y", "v1")
    replaced = DndConfig("p1", CONFIG.url, 1500, OnError.DENY, "whsec_x", "v2")
    assert cache.get(other_partner, "+919800000001") is None and cache.get(replaced, "+919800000001") is None
    now[0] = 300.0
    assert cache.get(CONFIG, "+919800000001") is None


def test_the_oldest_answers_go_first_past_the_limit():
    cache = AnswerCache(max_entries=2)
    for phone in ("+919800000001", "+919800000002", "+919800000003"):
        cache.put(CONFIG, phone, True)
    assert cache.get(CONFIG, "+919800000001") is None and cache.get(CONFIG, "+919800000003") is True
