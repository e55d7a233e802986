"""The shape check itself: it must fail on what would break a client, or the suite proves nothing."""

from __future__ import annotations

import pytest

from tests.conformance.shapes import assert_shape, nullable, shape_errors

SHAPE = {
    "call_id": "string",
    "duration_seconds": "integer|null",
    "created_at": "datetime",
    "session": {"transcript": [{"role": "string", "latency_ms": "integer|null"}], "latency": nullable({"avg_ms": "number"})},
}
GOOD = {
    "call_id": "c1",
    "duration_seconds": None,
    "created_at": "2026-11-24T10:00:00.000000Z",
    "session": {"transcript": [{"role": "bot", "latency_ms": None}], "latency": None},
    "extra": "allowed",
}


def test_a_response_with_every_field_passes():
    assert shape_errors(GOOD, SHAPE) == []
    assert shape_errors(GOOD | {"session": GOOD["session"] | {"latency": {"avg_ms": 640.5}}}, SHAPE) == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda v: v.pop("call_id"), "data.call_id: missing"),
        (lambda v: v.update(call_id=7), "data.call_id: expected string, got integer 7"),
        (lambda v: v.update(duration_seconds=True), "data.duration_seconds: expected integer|null, got boolean True"),
        (lambda v: v.update(duration_seconds=1.5), "data.duration_seconds: expected integer|null, got number 1.5"),
        (lambda v: v.update(created_at="yesterday"), "data.created_at: expected datetime, got string 'yesterday'"),
        (lambda v: v["session"].pop("transcript"), "data.session.transcript: missing"),
        (lambda v: v["session"]["transcript"][0].pop("role"), "data.session.transcript[0].role: missing"),
        (lambda v: v["session"].update(transcript={}), "data.session.transcript: expected array, got object"),
        (lambda v: v["session"].update(latency={}), "data.session.latency.avg_ms: missing"),
        (lambda v: v.update(session=None), "data.session: expected object, got null"),
    ],
)
def test_what_breaks_a_client_fails(change, error):
    value = {**GOOD, "session": {**GOOD["session"], "transcript": [dict(GOOD["session"]["transcript"][0])]}}
    change(value)
    assert shape_errors(value, SHAPE) == [error]
    with pytest.raises(AssertionError, match="differs from the docs"):
        assert_shape(value, SHAPE)


def test_a_mistyped_shape_is_a_mistake_in_the_test():
    with pytest.raises(ValueError, match="unknown type 'str'"):
        shape_errors("x", "str")
