"""Outcome mixes: what the far ends of many numbers do, without registering each one.

A mix is a list of weighted scenarios. Each dial picks one from a hash of the seed, the number
and how many times that number was dialled before, so a run is the same whatever order its calls
are placed in, and a number redialled may meet a different outcome (busy, then answered), as a
real campaign's numbers do.

>>> OutcomeMix.of((3, Scenario.busy()), (7, Scenario.caller_hangs_up_after(0.5)), seed=1)
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callwright.sim.scenarios import Scenario


class MixChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: float = Field(gt=0, le=1_000_000)
    scenario: Scenario


class OutcomeMix(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    choices: tuple[MixChoice, ...] = Field(min_length=1, max_length=100)
    seed: int = 0

    @classmethod
    def of(cls, *weighted: tuple[float, Scenario], seed: int = 0, **fields: Any) -> OutcomeMix:
        return cls(choices=tuple(MixChoice(weight=w, scenario=s) for w, s in weighted), seed=seed, **fields)

    def pick(self, key: str, dial: int) -> Scenario:
        """The scenario of dial number ``dial`` (0-based) to the number ``key``."""
        digest = hashlib.blake2b(f"{self.seed}:{key}:{dial}".encode(), digest_size=8).digest()
        point = int.from_bytes(digest, "big") / 2**64 * sum(c.weight for c in self.choices)
        for choice in self.choices:
            point -= choice.weight
            if point < 0:
                return choice.scenario
        return self.choices[-1].scenario
