"""Why an engine cannot serve a call."""

from __future__ import annotations


class VoiceUnavailable(Exception):
    """The agent's voice is not installed on this node."""

    code = "voice_unavailable"

    def __init__(self, voice_id: str) -> None:
        super().__init__(f"The voice {voice_id!r} is not installed on this node.")
        self.voice_id = voice_id
