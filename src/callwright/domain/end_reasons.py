"""Why a call ended, in our words: ``calls.end_reason`` when we know better than the carrier.

The media runtime reports one of these (``MediaOutcome.end_reason``); the call record keeps its
``words`` ("ended by agent"). When the caller hangs up, the carrier's own words are kept instead,
and carrier or reconciler sentences ("Vobiz refused the call: …") stay free text: ``from_words``
gives None for those.
"""

from __future__ import annotations

from enum import StrEnum


class EndReason(StrEnum):
    # The media stream's end, as the call's media session saw it.
    CALLER_HUNG_UP = "caller_hung_up"  # the carrier closed the stream in order
    MEDIA_STREAM_LOST = "media_stream_lost"  # cut, or silent past the idle timeout
    ENDED_BY_PLATFORM = "ended_by_platform"
    PLATFORM_SHUTTING_DOWN = "platform_shutting_down"  # its node drained past the grace period
    ENDED_BY_AGENT = "ended_by_agent"  # the end_call tool, or a scripted reply
    MAX_DURATION = "max_duration"  # the agent's max_call_duration_secs
    SILENCE_TIMEOUT = "silence_timeout"
    VOICEMAIL = "voicemail"  # a mailbox answered (after the message, if any)
    TRANSFERRED = "transferred"  # the carrier took the call off the stream to dial a human
    ERROR = "error"  # the pipeline failed; the outcome carries the error's sentence
    # Our side ended it before or without the media.
    ENDED_BY_PARTNER_REQUEST = "ended_by_partner_request"  # POST /calls/{id}/end
    NUMBER_SUPPRESSED = "number_suppressed"  # on the partner's suppression list when it was to leave
    CAMPAIGN_PAUSED = "campaign_paused"  # withdrawn before its dial: its campaign was paused
    CAMPAIGN_CANCELED = "campaign_canceled"  # … or canceled
    # The default words for a carrier's outcome when it gave none of its own.
    CALL_COMPLETED = "call_completed"
    CALL_FAILED = "call_failed"
    NO_ANSWER = "no_answer"
    LINE_BUSY = "line_busy"
    CALL_CANCELED = "call_canceled"

    @property
    def words(self) -> str:
        """As ``calls.end_reason`` keeps it, e.g. "ended by agent"."""
        return self.value.replace("_", " ")

    @classmethod
    def from_words(cls, text: str | None) -> EndReason | None:
        """The reason a stored ``end_reason`` names; None for anyone else's words."""
        return _BY_WORDS.get(text or "")


_BY_WORDS = {reason.words: reason for reason in EndReason}
