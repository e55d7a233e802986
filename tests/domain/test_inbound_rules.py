"""The share of a partner's concurrency its outbound calls leave for inbound calls."""

from __future__ import annotations

import pytest

from callwright.domain.inbound import InboundRefusal, inbound_reserved_slots, outbound_call_limit


@pytest.mark.parametrize(
    ("limit", "share", "outbound"),
    [
        (10, 0.1, 9),
        (20, 0.1, 18),
        (9, 0.1, 9),  # rounded down: a limit below 10 keeps no slot back at 0.1
        (1, 0.1, 1),
        (10, 0.0, 10),
        (10, 0.25, 8),
        (4, 0.5, 2),
        (0, 0.1, 0),
    ],
)
def test_outbound_calls_leave_the_inbound_share_free(limit, share, outbound):
    assert outbound_call_limit(limit, share) == outbound
    assert inbound_reserved_slots(limit, share) == limit - outbound


def test_each_refusal_has_an_error_code_for_carriers_that_cannot_speak():
    assert {r.code for r in InboundRefusal} == {"number_not_bound", "inbound_unavailable", "concurrency_limit"}
