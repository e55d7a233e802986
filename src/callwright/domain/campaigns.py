"""Campaigns: their statuses, their contacts' states, which lifecycle actions are legal, limits.

    draft ──start──▶ running ◀──resume── paused
      │      └─(start_at later)─▶ scheduled ──(start_at reached)──▶ running
      │                              │  ▲                              │
      │                              └pause/resume┘      (no contact left to call)
      │                                                                ▼
      └──────────── cancel (from any but completed) ──▶ canceled    completed
"""

from __future__ import annotations

import math
from enum import StrEnum

from callwright.domain.errors import Conflict

CONCURRENCY_MIN = 1
CONCURRENCY_MAX = 10
CONCURRENCY_DEFAULT = 1
CONTACTS_PER_REQUEST_MAX = 10_000
CONTACTS_PER_CAMPAIGN_MAX = 100_000
NAME_MAX = 200
DESCRIPTION_MAX = 2_000
# A contact's metadata, as JSON text: enough for a CRM record's key fields.
METADATA_MAX_BYTES = 4_096


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELED = "canceled"

    @property
    def is_finished(self) -> bool:
        return self in (CampaignStatus.COMPLETED, CampaignStatus.CANCELED)

    @property
    def is_editable(self) -> bool:
        """Settings may change only while nothing is being dialled."""
        return self in (CampaignStatus.DRAFT, CampaignStatus.PAUSED)


class ContactState(StrEnum):
    PENDING = "pending"  # waiting for its first attempt or its next retry
    CALLING = "calling"  # one attempt's call is under way
    COMPLETED = "completed"  # reached (or opted out, or transferred): never called again
    FAILED = "failed"  # not reached within its attempt budget, or an outcome not retried
    SKIPPED = "skipped"  # never dialled again for a reason of ours (suppressed, canceled, schedule over)

    @property
    def is_final(self) -> bool:
        return self in (ContactState.COMPLETED, ContactState.FAILED, ContactState.SKIPPED)


class CampaignAction(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


def next_status(status: CampaignStatus, action: CampaignAction, *, starts_later: bool) -> CampaignStatus | None:
    """The status ``action`` leads to from ``status``; None when the campaign is already where the
    action leads (repeating an action changes nothing). Conflict when the action is not allowed.

    ``starts_later``: the campaign's ``start_at`` is still ahead, so starting (or resuming) makes
    it ``scheduled`` rather than ``running``."""
    S = CampaignStatus
    live = S.SCHEDULED if starts_later else S.RUNNING
    if action is CampaignAction.CANCEL:
        if status is S.CANCELED:
            return None
        if status is S.COMPLETED:
            raise _conflict(status, action, "it has already completed")
        return S.CANCELED
    if status.is_finished:
        raise _conflict(status, action, f"it is {status.value}")
    if action is CampaignAction.START:
        if status is S.DRAFT:
            return live
        if status is S.PAUSED:
            raise _conflict(status, action, "it is paused; resume it instead")
        return None
    if action is CampaignAction.PAUSE:
        if status is S.DRAFT:
            raise _conflict(status, action, "it has not been started")
        return None if status is S.PAUSED else S.PAUSED
    # RESUME
    if status is S.DRAFT:
        raise _conflict(status, action, "it has not been started; start it instead")
    return live if status is S.PAUSED else None


def _conflict(status: CampaignStatus, action: CampaignAction, why: str) -> Conflict:
    return Conflict(
        f"cannot {action.value} this campaign: {why}",
        code="campaign_status_conflict",
        details={"status": status.value, "action": action.value},
    )


def campaign_call_limit(partner_limit: int, reserved_share: float) -> int:
    """How many of a partner's concurrent calls its campaigns together may hold: the partner's
    limit less the share kept free for single API calls and inbound calls (rounded up), but at
    least one, so a partner whose limit is 1 can still run a campaign."""
    reserved = math.ceil(partner_limit * reserved_share)
    return max(1, partner_limit - reserved)
