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


def _answering(log: ConversationLog) -> None:
    log.caller_stopped_speaking(1.2, speech_ended_at=1.0)
    log.user_said("Book me in")
    log.reply_started()
    for token in ["Sure,", " nine", " tomorrow."]:
        log.reply_text(token, spaced=True)


def test_a_reply_on_its_way_when_the_call_ends_is_logged_whole_and_interrupted() -> None:
    log = ConversationLog()
    _answering(log)
    log.reply_audio_started(2.0)
    # Pipecat's turn end on the pipeline's cancel: no sentence of it had all gone out yet.
    log.agent_turn_ended("", interrupted=True, call_ending=True)
    assert [t["role"] for t in log.wire()] == ["user"]
    log.call_ended()
    reply = log.wire()[-1]
    assert (reply["content"], reply["interrupted"], reply["latency_ms"]) == ("Sure, nine tomorrow.", True, 1000)
    log.call_ended()  # once only
    assert len(log.wire()) == 2


def test_a_reply_the_caller_never_began_to_hear_is_not_logged() -> None:
    log = ConversationLog()
    _answering(log)
    log.agent_turn_ended("", interrupted=True, call_ending=True)
    log.call_ended()
    assert [t["role"] for t in log.wire()] == ["user"]


def test_a_barge_in_keeps_pipecats_text_and_a_finished_reply_is_not_logged_twice() -> None:
    log = ConversationLog()
    _answering(log)
    log.reply_audio_started(2.0)
    log.agent_turn_ended("Sure,", interrupted=True, call_ending=False)  # the caller spoke over it
    log.call_ended()
    assert [(t["content"], t.get("interrupted")) for t in log.wire()[1:]] == [("Sure,", True)]

    log.user_said("Thanks")
    log.reply_started()
    log.reply_text("Goodbye.", spaced=False)
    log.reply_audio_started(5.0)
    log.agent_turn_ended("Goodbye.", interrupted=True, call_ending=True)  # all of it had gone out
    log.call_ended()
    assert [t["content"] for t in log.wire()] == ["Book me in", "Sure,", "Thanks", "Goodbye."]
