"""Shared by the carrier modules: authenticating a request, refusing it in the carrier's words."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated

from fastapi import Depends, Request, Response

from callwright.sim.state import SimState


class Refusal(Exception):
    """Raised from a carrier's dependency; the app answers with ``response`` as it stands."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def sim_state(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


SimStateDep = Annotated[SimState, Depends(sim_state)]


def secrets_match(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(user, password)`` from ``Authorization: Basic``; None if absent or malformed."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None
