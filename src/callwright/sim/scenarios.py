"""What the far end of a simulated call does: answer and talk, be busy, not answer, fail, be a
voicemail box, hang up early. Registered per destination number, with a default for the rest.

>>> Scenario.answer("Hello?", "Yes, tomorrow works.", gap_secs=1.5)
>>> Scenario.busy()
>>> Scenario.failed("No route to destination")
>>> Scenario.caller_hangs_up_after(4.0, "Who is this?")
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callwright.sim.audio import from_raw

if TYPE_CHECKING:
    from callwright.sim.outcome_mix import OutcomeMix


class Outcome(StrEnum):
    ANSWER = "answer"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    VOICEMAIL = "voicemail"


class Utterance(BaseModel):
    """One thing the caller says: text (spoken offline by Piper), a WAV file, or raw PCM."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    wav_path: str | None = None
    pcm_base64: str | None = Field(default=None, description="raw 16-bit little-endian mono PCM")
    sample_rate: int = Field(default=8000, ge=8000, le=48000, description="of pcm_base64")
    # Silence before it; None: the scenario's leading_silence_secs (first) or gap_secs (others).
    gap_before_secs: float | None = Field(default=None, ge=0.0, le=600.0)

    @model_validator(mode="after")
    def _one_source(self) -> Utterance:
        sources = [self.text, self.wav_path, self.pcm_base64]
        if sum(source is not None for source in sources) != 1:
            raise ValueError("an utterance needs exactly one of text, wav_path or pcm_base64")
        return self

    @classmethod
    def from_pcm(cls, pcm: bytes, *, sample_rate: int = 8000, **fields: Any) -> Utterance:
        return cls(pcm_base64=base64.b64encode(pcm).decode(), sample_rate=sample_rate, **fields)

    def label(self) -> str:
        return self.text or self.wav_path or f"<{len(self.pcm_bytes())} bytes of PCM>"

    def pcm_bytes(self) -> bytes:
        return base64.b64decode(self.pcm_base64 or "")

    def pcm(self) -> Any:
        """The utterance as 8 kHz PCM (numpy int16)."""
        from callwright.sim import speech
        from callwright.sim.audio import read_wav

        if self.text is not None:
            return speech.speak(self.text)
        if self.wav_path is not None:
            return read_wav(self.wav_path)
        return from_raw(self.pcm_bytes(), sample_rate=self.sample_rate)


class DtmfPress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    digit: str = Field(pattern=r"^[0-9*#A-D]$")
    at_secs: float = Field(ge=0.0, description="after the call is answered (script time)")


class NetworkHold(BaseModel):
    """Jitter: the network holds the caller's audio back, then delivers it at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_secs: float = Field(ge=0.0, description="script time of the first frame held")
    for_secs: float = Field(gt=0.0, le=60.0)


DEFAULT_GREETING = (
    "Hi, you have reached the voicemail of Sam. I can't take your call right now. "
    "Please leave a message after the tone."
)


class Scenario(BaseModel):
    """The far end's script. Times are seconds: ``ring_secs`` from the carrier's dial, the
    caller's speech (``leading_silence_secs``, ``gap_secs``) and DTMF from the answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome = Outcome.ANSWER
    ring_secs: float = Field(default=0.2, ge=0.0, le=600.0)
    # no_answer: when the carrier gives up; None: the dial's own ring timeout.
    no_answer_after_secs: float | None = Field(default=None, ge=0.0, le=600.0)
    # failed: the carrier's own words for why (None: each carrier's usual wording).
    failure_cause: str | None = None
    # The answering party hangs up this long after answering (None: never; the platform must).
    hangs_up_after_secs: float | None = Field(default=None, ge=0.0, le=86400.0)
    leading_silence_secs: float = Field(default=0.5, ge=0.0, le=600.0)
    # A caller who lets the agent finish first: the script (speech and DTMF) waits until the agent
    # has been heard and then quiet this long, and runs from there. None: it runs from the answer.
    waits_for_agent_secs: float | None = Field(default=None, ge=0.0, le=60.0)
    # With waits_for_agent_secs, a caller who also lets the agent answer each line: before every
    # later line the script stops until the agent has been heard after the caller's last line and
    # then quiet that long (the gap_secs of silence before the line still come first).
    takes_turns: bool = False
    # A caller who speaks over the agent: the script waits until the agent has been heard this long
    # from its first sound, and runs from there, however late that sound came. None: see above.
    barges_in_after_secs: float | None = Field(default=None, ge=0.0, le=60.0)
    gap_secs: float = Field(default=1.0, ge=0.0, le=600.0)
    utterances: tuple[Utterance, ...] = ()
    dtmf: tuple[DtmfPress, ...] = ()
    network_hold: NetworkHold | None = None
    # voicemail: the mailbox's greeting (spoken by Piper) and beep, instead of utterances.
    voicemail_greeting: str = DEFAULT_GREETING
    # How long the carrier's answering-machine detection takes to decide (when the dial asks).
    machine_detection_secs: float = Field(default=1.5, ge=0.0, le=60.0)

    # --- the usual scripts ---

    @classmethod
    def answer(cls, *lines: str | Utterance, **fields: Any) -> Scenario:
        return cls(outcome=Outcome.ANSWER, utterances=_utterances(lines), **fields)

    @classmethod
    def slow_answer(cls, ring_secs: float, *lines: str | Utterance, **fields: Any) -> Scenario:
        return cls.answer(*lines, ring_secs=ring_secs, **fields)

    @classmethod
    def caller_hangs_up_after(cls, secs: float, *lines: str | Utterance, **fields: Any) -> Scenario:
        return cls.answer(*lines, hangs_up_after_secs=secs, **fields)

    @classmethod
    def busy(cls, **fields: Any) -> Scenario:
        return cls(outcome=Outcome.BUSY, **fields)

    @classmethod
    def no_answer(cls, after_secs: float | None = None, **fields: Any) -> Scenario:
        return cls(outcome=Outcome.NO_ANSWER, no_answer_after_secs=after_secs, **fields)

    @classmethod
    def failed(cls, cause: str | None = None, **fields: Any) -> Scenario:
        return cls(outcome=Outcome.FAILED, failure_cause=cause, **fields)

    @classmethod
    def voicemail(cls, greeting: str = DEFAULT_GREETING, **fields: Any) -> Scenario:
        return cls(outcome=Outcome.VOICEMAIL, voicemail_greeting=greeting, **fields)

    @property
    def answers(self) -> bool:
        return self.outcome in (Outcome.ANSWER, Outcome.VOICEMAIL)

    @property
    def waits_for_agent(self) -> bool:
        """The script starts on what the agent does, not at the answer."""
        return self.waits_for_agent_secs is not None or self.barges_in_after_secs is not None

    @model_validator(mode="after")
    def _turns_need_a_wait(self) -> Scenario:
        if self.barges_in_after_secs is not None and self.waits_for_agent_secs is not None:
            raise ValueError("barges_in_after_secs and waits_for_agent_secs both start the script: set one")
        if self.takes_turns:
            if self.waits_for_agent_secs is None:
                raise ValueError("takes_turns needs waits_for_agent_secs: how long the agent is quiet before a line")
            if self.dtmf or self.network_hold is not None:
                # Their times are on the script's clock, which stops between lines.
                raise ValueError("takes_turns is not simulated with dtmf or network_hold")
        return self


def _utterances(lines: tuple[str | Utterance, ...]) -> tuple[Utterance, ...]:
    return tuple(line if isinstance(line, Utterance) else Utterance(text=line) for line in lines)


class ScenarioBook:
    """Scenarios by destination number (digits only, so +91… and 91… match), plus a default.

    A number may instead have a sequence (its first dial plays the first scenario, its second the
    second, the last repeating), and numbers with neither may follow an outcome mix
    (``sim.outcome_mix``) instead of the one default. Each dial of a number is counted."""

    def __init__(self, default: Scenario | None = None) -> None:
        self._lock = threading.Lock()
        self._by_number: dict[str, tuple[Scenario, ...]] = {}
        self._default = default or Scenario()
        self._mix: OutcomeMix | None = None
        self._dials: dict[str, int] = {}

    @staticmethod
    def key(number: str) -> str:
        digits = "".join(ch for ch in number if ch.isdigit())
        return digits or number

    def set(self, number: str | None, scenario: Scenario) -> None:
        """``scenario`` for calls to ``number``; for every other number when ``number`` is None."""
        with self._lock:
            if number is None:
                self._default = scenario
            else:
                self._by_number[self.key(number)] = (scenario,)

    def set_sequence(self, number: str, scenarios: Sequence[Scenario]) -> None:
        """The number's successive dials play ``scenarios`` in turn; the last one repeats."""
        if not scenarios:
            raise ValueError("a sequence needs at least one scenario")
        with self._lock:
            self._by_number[self.key(number)] = tuple(scenarios)

    def set_mix(self, mix: OutcomeMix | None) -> None:
        """Numbers without a scenario of their own follow ``mix`` (None: the default again)."""
        with self._lock:
            self._mix = mix

    def for_number(self, number: str) -> Scenario:
        """The scenario of the next dial to ``number`` (counted as dialled)."""
        key = self.key(number)
        with self._lock:
            registered = self._registered(key)
            counted = registered or key
            dial = self._dials.get(counted, 0)
            self._dials[counted] = dial + 1
            if registered is not None:
                sequence = self._by_number[registered]
                return sequence[min(dial, len(sequence) - 1)]
            if self._mix is not None:
                return self._mix.pick(key, dial)
            return self._default

    def _registered(self, key: str) -> str | None:
        if key in self._by_number:
            return key
        # A 10-digit national number (MCube, Exotel) matches a registered E.164 one.
        if len(key) >= 10:
            for registered in self._by_number:
                if registered[-10:] == key[-10:]:
                    return registered
        return None

    def dials(self, number: str) -> int:
        """How many times ``number`` has been dialled since the book was last cleared."""
        key = self.key(number)
        with self._lock:
            return self._dials.get(self._registered(key) or key, 0)

    def default(self) -> Scenario:
        with self._lock:
            return self._default

    def mix(self) -> OutcomeMix | None:
        with self._lock:
            return self._mix

    def all(self) -> dict[str, Scenario]:
        """Each registered number's scenario (the first of a sequence)."""
        with self._lock:
            return {number: sequence[0] for number, sequence in self._by_number.items()}

    def clear(self) -> None:
        with self._lock:
            self._by_number.clear()
            self._default = Scenario()
            self._mix = None
            self._dials.clear()
