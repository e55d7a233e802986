"""The transcript's reply latency and its per-turn breakdown, from the moments the pipeline reports."""

from __future__ import annotations

from callwright.voice.conversation import ConversationLog


def test_a_reply_measures_from_the_end_of_speech_with_its_breakdown() -> None:
    log = ConversationLog()
    log.bot_said("Hello, this is Joe.")
    log.caller_stopped_speaking(10.2, speech_ended_at=10.0)  # VAD stop_secs = 0.2
    log.transcribed(10.65)
    log.user_said("I would like to book")
    log.reply_milestone("llm_first_token", 10.9)
    log.reply_milestone("llm_first_token", 11.5)  # later tokens don't move it
    log.reply_milestone("tts_first_audio", 11.0)
    log.reply_audio_started(11.02)
    log.reply_audio_started(12.0)
    log.bot_said("Sure.")

    intro, user, reply = log.wire()
    assert intro["latency_ms"] is None and "breakdown" not in intro
    assert user["latency_ms"] is None
    assert reply["latency_ms"] == 1020
    assert reply["breakdown"] == {
        "vad_stop": 200,
        "stt_final": 650,
        "llm_first_token": 900,
        "tts_first_audio": 1000,
    }
    assert log.latency() == {"min_ms": 1020, "max_ms": 1020, "avg_ms": 1020.0}


def test_a_transcript_from_an_earlier_turn_is_not_this_turns_stt_final() -> None:
    log = ConversationLog()
    log.caller_stopped_speaking(1.2, speech_ended_at=1.0)
    log.transcribed(1.5)
    log.user_said("first")
    log.reply_audio_started(2.0)
    log.bot_said("one")
    log.caller_stopped_speaking(5.2, speech_ended_at=5.0)
    log.user_said("second")  # no new transcript time yet: no stt_final for this turn
    log.reply_audio_started(6.0)
    log.bot_said("two")
    assert log.wire()[-1]["breakdown"] == {"vad_stop": 200}
    assert log.latency() == {"min_ms": 1000, "max_ms": 1000, "avg_ms": 1000.0}


def test_lines_nobody_asked_for_have_no_latency() -> None:
    log = ConversationLog()
    log.reply_milestone("tts_first_audio", 1.0)
    log.reply_audio_started(1.0)
    log.bot_said("Are you still there?")
    assert log.wire()[0]["latency_ms"] is None
    assert log.latency() is None
