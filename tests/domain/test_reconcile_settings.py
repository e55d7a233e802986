"""The reconciler's settings: its bound must leave room for two heartbeats of a live call."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callwright.settings import Settings


def test_defaults_ask_about_calls_silent_for_three_minutes_every_thirty_seconds():
    settings = Settings()
    assert (settings.reconcile_interval_secs, settings.reconcile_after_secs) == (30.0, 180.0)
    assert settings.media_idle_timeout_secs == 10.0


def test_a_bound_shorter_than_two_heartbeats_is_refused():
    with pytest.raises(ValidationError, match="RECONCILE_AFTER_SECS must be at least twice"):
        Settings(reconcile_interval_secs=60, reconcile_after_secs=90)
    assert Settings(reconcile_interval_secs=60, reconcile_after_secs=120).reconcile_after_secs == 120


@pytest.mark.parametrize("field", ["reconcile_interval_secs", "reconcile_after_secs", "media_idle_timeout_secs"])
def test_times_must_be_positive(field):
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: 0})
