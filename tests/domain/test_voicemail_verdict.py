"""The voicemail second opinion's rules: mailbox phrases, a person's short greeting, a beep."""

from __future__ import annotations

import pytest

from callwright.domain.voicemail import Verdict, classify_greeting


@pytest.mark.parametrize(
    "greeting",
    [
        "Hi, you have reached the voicemail of Sam. I can't take your call right now.",
        "The person you are trying to reach is not available. Please leave a message after the tone.",
        "Please leave your name and number and I'll get back to you.",
        "You've reached Acme. We cannot take your call; record your message at the beep.",
    ],
)
def test_mailbox_greetings_are_machines_to_act_on(greeting: str) -> None:
    verdict = classify_greeting(greeting)
    assert verdict.answered_by is Verdict.MACHINE and verdict.is_voicemail
    assert verdict.reason.startswith("mailbox greeting phrases:")


@pytest.mark.parametrize(
    "greeting", ["Hello?", "Yes, who is this?", "Hi", "Speaking.", "Haan, bolo", "Oh, hallo, who's calling?"]
)
def test_short_greetings_are_people(greeting: str) -> None:
    verdict = classify_greeting(greeting)
    assert verdict.answered_by is Verdict.HUMAN and not verdict.is_voicemail


def test_a_beep_alone_is_a_machine() -> None:
    verdict = classify_greeting("", beep=True)
    assert verdict.is_voicemail and verdict.reason == "a beep tone was heard"


def test_one_weak_cue_is_not_enough_to_hang_up() -> None:
    verdict = classify_greeting("Sorry, I'll have to call back to you later about the order")
    assert verdict.answered_by is Verdict.MACHINE and not verdict.is_voicemail


def test_cues_compound() -> None:
    one = classify_greeting("You have reached Sam.")
    two = classify_greeting("You have reached Sam. I am not available.")
    assert two.confidence > one.confidence and two.is_voicemail and not one.is_voicemail


def test_a_long_monologue_leans_machine_and_an_ordinary_sentence_is_unknown() -> None:
    long = " ".join(["this is a very long recorded message about our office hours"] * 3)
    assert classify_greeting(long).answered_by is Verdict.MACHINE
    assert not classify_greeting(long).is_voicemail
    assert classify_greeting("I would like to book an appointment tomorrow").answered_by is Verdict.UNKNOWN
    assert classify_greeting("   ").answered_by is Verdict.UNKNOWN
