"""Where a reply's time goes: the moments the STT, LLM and TTS services push their first output.

Hooked on each service's synchronous ``on_before_push_frame`` event rather than as extra
processors: a processor in the pipeline costs every audio frame a queue hop; the hook costs one
function call per pushed frame and only stamps the ones that matter.
"""

from __future__ import annotations

import time

from pipecat.frames.frames import (
    Frame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameProcessor

from callwright.voice.conversation import ConversationLog


def watch_milestones(
    conversation: ConversationLog,
    *,
    stt: FrameProcessor,
    llm: FrameProcessor,
    tts: FrameProcessor,
) -> None:
    def _stt_pushed(_processor: FrameProcessor, frame: Frame) -> None:
        if isinstance(frame, TranscriptionFrame):
            conversation.transcribed(time.monotonic())

    def _llm_pushed(_processor: FrameProcessor, frame: Frame) -> None:
        if isinstance(frame, LLMTextFrame):
            conversation.reply_milestone("llm_first_token", time.monotonic())
            conversation.reply_text(frame.text, spaced=frame.includes_inter_frame_spaces)
        elif isinstance(frame, LLMFullResponseStartFrame):
            conversation.reply_started()

    def _tts_pushed(_processor: FrameProcessor, frame: Frame) -> None:
        if isinstance(frame, TTSAudioRawFrame):
            conversation.reply_milestone("tts_first_audio", time.monotonic())

    stt.add_event_handler("on_before_push_frame", _stt_pushed)
    llm.add_event_handler("on_before_push_frame", _llm_pushed)
    tts.add_event_handler("on_before_push_frame", _tts_pushed)
