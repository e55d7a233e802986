"""Rules for calls that come in to a partner's numbers: the share of its concurrency kept for them,
and what a caller hears when an inbound call is refused."""

from __future__ import annotations

import math
from enum import StrEnum


def outbound_call_limit(partner_limit: int, inbound_reserved_share: float) -> int:
    """How many concurrent calls a partner's outbound starts (API and campaigns) may hold: its
    limit less the share kept free for inbound calls, rounded down, so a partner whose limit is
    below ``1 / share`` keeps no slot back. Inbound calls may use the whole limit."""
    reserved = math.floor(partner_limit * inbound_reserved_share)
    return max(0, partner_limit - reserved)


def inbound_reserved_slots(partner_limit: int, inbound_reserved_share: float) -> int:
    return partner_limit - outbound_call_limit(partner_limit, inbound_reserved_share)


class InboundRefusal(StrEnum):
    """Why an inbound call did not reach an agent. The caller hears the carrier speak the
    matching message and the call is hung up; nothing is stored as a call."""

    NOT_IN_SERVICE = "not_in_service"  # no such number, number INACTIVE, or no agent bound
    UNAVAILABLE = "unavailable"  # the partner is suspended, its connection inactive, no credit
    BUSY = "busy"  # every one of the partner's concurrent-call slots is taken

    @property
    def code(self) -> str:
        """The error code an HTTP refusal carries, where the carrier cannot speak (Exotel)."""
        return {"not_in_service": "number_not_bound", "unavailable": "inbound_unavailable", "busy": "concurrency_limit"}[
            self.value
        ]
