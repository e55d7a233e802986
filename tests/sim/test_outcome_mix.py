"""Per-number outcome sequences and outcome mixes: what many numbers do, dial after dial."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from callwright.sim import Outcome, OutcomeMix, Scenario
from callwright.sim.scenarios import ScenarioBook


def test_a_sequence_plays_in_turn_and_its_last_scenario_repeats():
    book = ScenarioBook()
    book.set_sequence("+14155550100", [Scenario.busy(), Scenario.no_answer(), Scenario.answer()])
    outcomes = [book.for_number("+14155550100").outcome for _ in range(5)]
    assert outcomes == [Outcome.BUSY, Outcome.NO_ANSWER, Outcome.ANSWER, Outcome.ANSWER, Outcome.ANSWER]
    assert book.dials("14155550100") == 5
    assert book.for_number("+14155550199").outcome is Outcome.ANSWER  # the default
    with pytest.raises(ValueError):
        book.set_sequence("+1", [])


def test_a_mix_is_the_same_whatever_the_order_of_dials():
    mix = OutcomeMix.of((1, Scenario.busy()), (1, Scenario.no_answer()), (2, Scenario.answer()), seed=7)
    numbers = [f"+1212555{i:04d}" for i in range(400)]
    forward, backward = ScenarioBook(), ScenarioBook()
    forward.set_mix(mix)
    backward.set_mix(mix)
    first = {n: forward.for_number(n).outcome for n in numbers}
    second = {n: backward.for_number(n).outcome for n in reversed(numbers)}
    assert first == second
    shares = Counter(first.values())
    assert 70 <= shares[Outcome.BUSY] <= 130 and 70 <= shares[Outcome.NO_ANSWER] <= 130
    assert 160 <= shares[Outcome.ANSWER] <= 240
    redialled = {n: forward.for_number(n).outcome for n in numbers}
    assert redialled != first  # a second dial of a number draws again
    other_seed = ScenarioBook()
    other_seed.set_mix(OutcomeMix.of(*((c.weight, c.scenario) for c in mix.choices), seed=8))
    assert {n: other_seed.for_number(n).outcome for n in numbers} != first


def test_a_numbers_own_scenario_wins_over_the_mix_and_clear_forgets_everything():
    book = ScenarioBook()
    book.set_mix(OutcomeMix.of((1, Scenario.busy())))
    book.set("+14155550100", Scenario.failed())
    assert book.for_number("+14155550100").outcome is Outcome.FAILED
    assert book.for_number("+14155550101").outcome is Outcome.BUSY
    book.clear()
    assert book.mix() is None and book.dials("+14155550101") == 0
    assert book.for_number("+14155550101").outcome is Outcome.ANSWER


async def test_sequences_and_mixes_over_the_control_api(sim):
    control = f"{sim.base_url}/_sim"
    async with httpx.AsyncClient() as http:
        sequence = [Scenario.busy().model_dump(mode="json"), Scenario.no_answer(0.1).model_dump(mode="json")]
        assert (await http.put(f"{control}/scenarios/+14155557777/sequence", json=sequence)).status_code == 200
        assert (await http.put(f"{control}/scenarios/+14155557777/sequence", json=[])).status_code == 400
        mix = OutcomeMix.of((1, Scenario.busy()), seed=3).model_dump(mode="json")
        assert (await http.put(f"{control}/mix", json=mix)).status_code == 200
        listed = (await http.get(f"{control}/scenarios")).json()
        assert listed["mix"]["seed"] == 3 and listed["by_number"]["14155557777"]["outcome"] == "busy"
        assert (await http.get(f"{control}/dials/+14155557777")).json() == {"number": "+14155557777", "dials": 0}
        assert (await http.delete(f"{control}/mix")).status_code == 204
    assert sim.state.scenarios.mix() is None
