"""Per-key rate limits: which budget a path counts against, and what the headers say."""

from __future__ import annotations

import pytest

from callwright.domain.rate_limits import KeyRates, RateCategory, WindowState, category_of


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/calls",
        "/api/v2/calls/start",
        "/api/v2/calls/concurrency",
        "/api/v2/calls/0b7c6a9e/end",
        "/api/v2/calls/0b7c6a9e/recording-url",
        "/api/v2/calls/",
    ],
)
def test_call_endpoints_count_against_the_calls_budget(path):
    assert category_of(path) is RateCategory.CALLS


def test_browser_session_starts_have_a_budget_of_their_own_the_calls_budgets_size():
    assert category_of("/api/v2/sessions/webrtc") is RateCategory.SESSION_STARTS
    assert category_of("/api/v2/sessions/webrtc/") is RateCategory.SESSION_STARTS
    # The offer and the session's reads are ordinary requests.
    assert category_of("/api/v2/sessions/abc/offer") is RateCategory.GENERAL
    assert KeyRates(requests_per_minute=60, calls_per_minute=10).limit_for(RateCategory.SESSION_STARTS) == 10


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/config",
        "/api/v2/agents",
        "/api/v2/agent/abc",
        "/api/v2/projects",
        "/api/v2/sessions/abc",
        "/api/v2/callsign",  # a prefix of the word is not the path segment
        "/api/v2/config/webhooks",
    ],
)
def test_other_endpoints_count_against_the_general_budget(path):
    assert category_of(path) is RateCategory.GENERAL


def test_each_budget_has_its_own_limit_and_zero_means_none():
    rates = KeyRates(requests_per_minute=60, calls_per_minute=10)
    assert rates.limit_for(RateCategory.GENERAL) == 60
    assert rates.limit_for(RateCategory.CALLS) == 10
    assert KeyRates(0, 0).limit_for(RateCategory.CALLS) == 0


def test_headers_of_an_allowed_request():
    state = WindowState(allowed=True, limit=60, remaining=59, reset_at=1_000.2)
    assert state.headers(now=990.0) == {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "59",
        "X-RateLimit-Reset": "1001",
    }


def test_a_refused_request_says_when_to_retry_in_whole_seconds():
    state = WindowState(allowed=False, limit=10, remaining=0, reset_at=1_000.2)
    headers = state.headers(now=987.9)
    assert headers["Retry-After"] == "13"
    assert headers["X-RateLimit-Remaining"] == "0"
    # A window ending now (or already) still asks for one second, never zero or less.
    assert WindowState(False, 10, 0, reset_at=1_000.0).retry_after(now=1_000.5) == 1
