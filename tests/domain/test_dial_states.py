"""The dialer's queue states: the table of legal moves, final states, and the guard."""

from __future__ import annotations

import itertools

import pytest

from callwright.domain.dialing import DIAL_MOVES, HANDED_OVER, DialState, IllegalDialMove, dial_move

Q, C, D, OK, U, F, X = (
    DialState.QUEUED,
    DialState.CLAIMED,
    DialState.DIALING,
    DialState.DIALED,
    DialState.UNCONFIRMED,
    DialState.FAILED,
    DialState.CANCELED,
)
LEGAL = {
    (Q, C), (Q, X),
    (C, Q), (C, D), (C, X), (C, F),
    (D, OK), (D, F), (D, U), (D, Q),
    (U, OK), (U, F),
}


def test_the_states_are_the_stored_values():
    assert [s.value for s in DialState] == [
        "queued", "claimed", "dialing", "dialed", "unconfirmed", "failed", "canceled"
    ]
    assert set(DIAL_MOVES) == set(DialState)


@pytest.mark.parametrize(("current", "to"), list(itertools.product(DialState, DialState)))
def test_every_pair_is_legal_exactly_when_the_table_says(current, to):
    legal = (current, to) in LEGAL
    assert current.can_become(to) is legal
    if legal:
        assert dial_move(current.value, to) is to
    else:
        with pytest.raises(IllegalDialMove, match=f"from dial state {current} to {to}"):
            dial_move(current.value, to)


def test_final_states_never_move_and_the_rest_do():
    assert {s for s in DialState if s.is_final} == {OK, F, X}
    for state in (OK, F, X):
        assert not DIAL_MOVES[state]


def test_a_dial_that_may_have_left_is_never_claimed_or_sent_again():
    for state in (D, U):
        assert not state.can_become(C)
        assert not state.can_become(D)
    assert not U.can_become(Q)


def test_every_state_but_the_dialers_own_is_handed_over_or_final():
    assert HANDED_OVER == {OK, U}
    assert {s for s in DialState if s not in HANDED_OVER and not s.is_final} == {Q, C, D}


def test_an_unknown_stored_value_is_refused():
    with pytest.raises(ValueError):
        dial_move("paused", DialState.QUEUED)
