"""The voicemail second opinion: is the far end a mailbox greeting or a person?

Used where the carrier cannot tell (Exotel; MCube too, once its audio reaches us) and as a check
on the carrier's own answer.
It reads what the far end said in its first seconds (the transcript) and whether a beep was
heard, and gives a verdict with a confidence in [0, 1] and the reason in words.

Mailbox greetings are formulaic: "you have reached…", "…is not available…", "please leave a
message after the tone". People answering a call say a few words and wait ("Hello?", "Yes, who is
this?"). A beep is the strongest sign of all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# Confidence at which a machine verdict is acted on (the call is treated as voicemail).
ACT_ON_MACHINE = 0.8


class Verdict(StrEnum):
    MACHINE = "machine"
    HUMAN = "human"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class GreetingVerdict:
    answered_by: Verdict
    confidence: float
    reason: str

    @property
    def is_voicemail(self) -> bool:
        return self.answered_by is Verdict.MACHINE and self.confidence >= ACT_ON_MACHINE


# (phrase pattern, confidence it alone gives a machine verdict)
_MACHINE_PHRASES: tuple[tuple[str, float], ...] = (
    (r"leave (?:me |us )?(?:a |your )?(?:brief |short )?(?:message|name and number)", 0.9),
    (r"(?:after|at) the (?:tone|beep)", 0.9),
    (r"voice ?mail|mail ?box|answering machine", 0.9),
    (r"record your message", 0.9),
    (r"(?:is|am|are) (?:not|n't) available", 0.75),
    (r"(?:can ?not|can't|unable to) (?:take|answer|come to) (?:your call|the phone)", 0.8),
    (r"you(?:'ve| have) reached", 0.7),
    (r"(?:get|call) back to you", 0.6),
    (r"the (?:person|number|subscriber) you (?:are|have) (?:trying to reach|called|dialled|dialed)", 0.85),
    (r"press (?:pound|hash|star)", 0.6),
)
_COMPILED = tuple((re.compile(rf"\b{p}", re.IGNORECASE), c) for p, c in _MACHINE_PHRASES)
# A person picking up: a short greeting or question, usually within a few words.
_HUMAN_OPENERS = re.compile(
    r"\b(?:hello|hallo|hullo|hi|hey|yes|yeah|yep|speaking|who(?:'s| is) (?:this|it|calling)"
    r"|namaste|haan)\b",
    re.IGNORECASE,
)
SHORT_ANSWER_WORDS = 6
LONG_MONOLOGUE_WORDS = 25


def classify_greeting(transcript: str, *, beep: bool = False) -> GreetingVerdict:
    """The verdict on what the far end said so far (and whether it beeped)."""
    text = " ".join(transcript.split())
    if beep:
        return GreetingVerdict(Verdict.MACHINE, 0.95, "a beep tone was heard")
    matches = [(m.group(0), c) for pattern, c in _COMPILED if (m := pattern.search(text))]
    if matches:
        # Independent cues compound: 1 − Π(1 − cᵢ).
        miss = 1.0
        for _, confidence in matches:
            miss *= 1.0 - confidence
        phrases = ", ".join(f'"{phrase.lower()}"' for phrase, _ in matches)
        return GreetingVerdict(
            Verdict.MACHINE, round(1.0 - miss, 3), f"mailbox greeting phrases: {phrases}"
        )
    words = len(text.split())
    if words == 0:
        return GreetingVerdict(Verdict.UNKNOWN, 0.0, "nothing said yet")
    if words <= SHORT_ANSWER_WORDS and _HUMAN_OPENERS.search(text):
        return GreetingVerdict(Verdict.HUMAN, 0.8, "a short spoken greeting, as a person answers")
    if words >= LONG_MONOLOGUE_WORDS:
        return GreetingVerdict(
            Verdict.MACHINE, 0.55, f"a {words}-word monologue with no pause for a reply"
        )
    if words <= SHORT_ANSWER_WORDS:
        return GreetingVerdict(Verdict.HUMAN, 0.6, "a short spoken answer")
    return GreetingVerdict(Verdict.UNKNOWN, 0.3, "no mailbox phrases and no clear greeting")
