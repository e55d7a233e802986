"""Pipecat's bundled smart-turn v3 model as the end-of-turn judge on phone audio, offline.

The caller is the simulator's Piper voice, at 8 kHz and through a µ-law round trip (what the
carrier sends). Each sample is fed frame by frame the way the pipeline would: 20 ms frames go to
the analyzer's ``append_audio`` with the speech flag the turn strategy holds (set by Silero's start,
cleared by its stop: the process's shared Silero, at our phone settings), and at Silero's stop the
analyzer is asked for its verdict.

- COMPLETE: whole utterances; the verdict should be COMPLETE (end the turn at once).
- INCOMPLETE: the same kind of sentence cut at a pause Piper puts at a comma ("My number is, …"),
  then silence: a COMPLETE verdict here cuts the caller off.
- INCOMPLETE, spoken alone: the words before the cut rendered as a sentence of their own, so they
  end with a sentence's falling pitch. Harsher than a real hesitation; a bound, not the estimate.
- a wideband control: the same cases from Piper's native rate resampled to 16 kHz (no µ-law), to
  tell what the model loses on narrowband phone audio.

Also: inference time alone and with 10 analyses at once (one shared ONNX session, one thread per
analyzer as ``BaseSmartTurn`` runs them), the per-frame ``append_audio`` cost, model load time and
RSS, and when a finished caller's turn would end against today's 0.6 s: with an STT whose
transcript is there at once, and with the offline Whisper's time on each turn. Prints a table and
one JSON line. Runs in about a minute.

    .venv/bin/python bench/smart_turn_eval.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import onnxruntime
from bench.common import pct
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.turn.smart_turn.base_smart_turn import (
    BaseSmartTurn,
    SmartTurnParams,
)
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.vad_analyzer import VADState

from callwright.sim.audio import SAMPLE_RATE, resample, ulaw_decode, ulaw_encode

# speak() renders at 8 kHz only; the wideband control needs Piper's own output.
from callwright.sim.speech import _piper_voice
from callwright.voice.vad import silero_vad

TODAY_SECS = 0.6  # Silero's stop (0.2 s) + SpeechTimeoutUserTurnStopStrategy's 0.4 s
VAD_STOP_SECS = 0.2
FALLBACKS_SECS = (3.0, 1.0)  # smart-turn's own silence timeout: Pipecat's default, and shorter
LEAD_SECS = 0.3
TAIL_SECS = 1.0
# A quiet run of >= 160 ms inside an utterance is a pause (Piper pauses ~240 ms at a comma).
PAUSE_FRAMES = 8
QUIET_RMS = 330.0  # per 20 ms frame, the simulator's speech threshold
CONCURRENT = 10
# Pipecat's threshold is fixed at 0.5; the others say what such a knob would buy.
THRESHOLDS = (0.5, 0.7, 0.9, 0.95)
SMART_TURN_PACKAGE = "pipecat.audio.turn.smart_turn.data"
SMART_TURN_MODEL = "smart-turn-v3.2-cpu.onnx"

COMPLETE = [
    "Yes.",
    "No thanks.",
    "Okay.",
    "Goodbye.",
    "I don't know.",
    "Seven thirty.",
    "Yes, that works for me.",
    "No, I'm not interested.",
    "Sure, go ahead.",
    "What time do you close today?",
    "Can you tell me how much it costs?",
    "Is the appointment still on for Tuesday?",
    "My order number is four five two one.",
    "My phone number is five five five, one two three, four five six seven.",
    "I live at twenty two Baker Street.",
    "The address is one forty five Main Street, Springfield.",
    "It's for two people.",
    "Tuesday at three would be great.",
    "I'd like to book an appointment.",
    "Please call me back tomorrow morning.",
    "That's all, thank you.",
    "I already paid that bill last week.",
    "Can I speak to a real person?",
    "My name is Priya Sharma.",
    "Not right now, maybe next month.",
    "Where is my package?",
    "I want to cancel my subscription.",
    "How long will the delivery take?",
    "Yes, please send me the details by email.",
    "The card ends in four four one nine.",
]

# (sentence, the pause to cut at: 1 = the first comma's pause)
INCOMPLETE = [
    ("My number is, five five five, two one nine eight.", 1),
    ("I would like to, um, change my booking.", 1),
    ("Um, I was wondering, if you have anything on Friday.", 2),
    ("Nine, ten, eleven, twelve.", 2),
    ("My order number is, four five, two one.", 1),
    ("The address is, twenty two, Baker Street.", 1),
    ("So I was thinking, maybe we could, move it to Thursday.", 1),
    ("So I was thinking, maybe we could, move it to Thursday.", 2),
    ("Because, um, the last time I called, nobody answered.", 2),
    ("I need to, uh, speak with someone about my bill.", 1),
    ("Can you, um, tell me the price?", 1),
    ("My name is, uh, Priya Sharma.", 1),
    ("It's for, um, four people.", 1),
    ("The card number is, four four one nine, and the expiry is, oh nine twenty seven.", 1),
    ("The card number is, four four one nine, and the expiry is, oh nine twenty seven.", 3),
    ("I was calling about, the appointment on, Tuesday.", 1),
    ("I was calling about, the appointment on, Tuesday.", 2),
    ("Yeah, and also, I wanted to ask about the refund.", 2),
    ("If it's not too much trouble, could you, send it again?", 2),
    ("One, two, three, four, five.", 3),
    ("The best time to call me is, um, after five.", 1),
    ("My email is, priya at example dot com.", 1),
    ("We moved to, uh, Chennai last year.", 1),
    ("I paid with my, um, credit card.", 1),
    ("Is it possible to, you know, get a discount?", 1),
    ("The problem is that, the device keeps restarting.", 1),
    ("And then, when I tried to log in, it said error.", 1),
    ("And then, when I tried to log in, it said error.", 2),
    ("I'm calling because, my order, hasn't arrived yet.", 1),
    ("Could you send it to, my work address, instead?", 1),
]


class SharedSmartTurn:
    """One ONNX session for every analyzer, as a call runtime would share it (like voice/vad.py).

    ``LocalSmartTurnAnalyzerV3`` loads the model per instance; the network is stateless, and what
    belongs to one stream (the audio buffer, speech tracking) lives in ``BaseSmartTurn``.
    """

    def __init__(self) -> None:
        self._session: onnxruntime.InferenceSession | None = None

    @property
    def session(self) -> onnxruntime.InferenceSession:
        if self._session is None:
            # Pipecat's options: one thread per run(); each analyzer runs on a thread of its own.
            options = onnxruntime.SessionOptions()
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            options.inter_op_num_threads = 1
            options.intra_op_num_threads = 1
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            model = resources.files(SMART_TURN_PACKAGE).joinpath(SMART_TURN_MODEL)
            with resources.as_file(model) as path:
                self._session = onnxruntime.InferenceSession(
                    str(path), sess_options=options, providers=["CPUExecutionProvider"]
                )
        return self._session

    def new_analyzer(self) -> LocalSmartTurnAnalyzerV3:
        analyzer = LocalSmartTurnAnalyzerV3.__new__(LocalSmartTurnAnalyzerV3)
        # Not LocalSmartTurnAnalyzerV3.__init__(), which would load the model again.
        BaseSmartTurn.__init__(analyzer, params=SmartTurnParams(stop_secs=FALLBACKS_SECS[0]))
        analyzer._log_data = False
        analyzer._session = self.session
        return analyzer


@dataclass
class Verdict:
    complete: bool
    probability: float
    inference_ms: float
    heard_samples: int  # the audio up to Silero's stop


# ---- audio ----


@cache
def piper(text: str) -> tuple[np.ndarray, int]:
    """One rendering per text at Piper's own rate, so phone and control hear the same take.

    Piper draws random noise for every rendering (durations and pitch vary from run to run), so
    figures move by a few cases between runs of this bench.
    """
    chunks = list(_piper_voice().synthesize(text))
    return np.concatenate([chunk.audio_int16_array for chunk in chunks]), chunks[0].sample_rate


def narrowband(text: str) -> np.ndarray:
    """The phone caller, as ``callwright.sim.speech.speak`` renders it, through µ-law and back."""
    return ulaw_decode(ulaw_encode(resample(*piper(text), SAMPLE_RATE)))


def wideband(text: str) -> np.ndarray:
    """The control: the same take resampled to 16 kHz (the model's own rate), no codec."""
    return resample(*piper(text), 16000)


def frame_rms(pcm: np.ndarray, rate: int) -> np.ndarray:
    size = rate // 50
    frames = pcm[: len(pcm) // size * size].astype(np.float32).reshape(-1, size)
    return np.sqrt((frames**2).mean(axis=1))


def trim(pcm: np.ndarray, rate: int) -> np.ndarray:
    loud = np.flatnonzero(frame_rms(pcm, rate) > QUIET_RMS)
    size = rate // 50
    return pcm[loud[0] * size : (loud[-1] + 1) * size]


def cut_at_pause(pcm: np.ndarray, rate: int, pause: int) -> np.ndarray | None:
    """``pcm`` up to the start of its ``pause``-th quiet run of >= PAUSE_FRAMES frames."""
    quiet = frame_rms(pcm, rate) <= QUIET_RMS
    found, run = 0, 0
    for i, is_quiet in enumerate(quiet):
        run = run + 1 if is_quiet else 0
        if run == PAUSE_FRAMES:
            found += 1
            if found == pause:
                return pcm[: (i - PAUSE_FRAMES + 1) * (rate // 50)]
    return None


def with_silence(speech: np.ndarray, rate: int) -> np.ndarray:
    lead = np.zeros(int(LEAD_SECS * rate), dtype=np.int16)
    tail = np.zeros(int(TAIL_SECS * rate), dtype=np.int16)
    return np.concatenate([lead, speech, tail])


def cases(render, rate: int) -> dict[str, list[tuple[str, np.ndarray]]]:
    out: dict[str, list[tuple[str, np.ndarray]]] = {"complete": [], "cut": [], "alone": []}
    for text in COMPLETE:
        out["complete"].append((text, with_silence(trim(render(text), rate), rate)))
    for text, pause in INCOMPLETE:
        cut = cut_at_pause(trim(render(text), rate), rate, pause)
        prefix = ",".join(text.split(",")[:pause]).strip()
        if cut is None:
            raise SystemExit(f"no pause {pause} in Piper's rendering of {text!r}")
        out["cut"].append((prefix + " …", with_silence(cut, rate)))
        out["alone"].append((prefix, with_silence(trim(render(prefix), rate), rate)))
    return out


# ---- the analyzer, fed as the pipeline feeds it ----


async def judge(shared: SharedSmartTurn, pcm: np.ndarray, rate: int) -> Verdict | None:
    """Frame by frame through Silero and the analyzer; the verdict asked at Silero's stop."""
    vad = silero_vad().new_analyzer()
    vad.set_sample_rate(rate)
    analyzer = shared.new_analyzer()
    analyzer.set_sample_rate(rate)
    size = rate // 50 * 2
    audio = pcm.tobytes()
    speaking = False
    # Frames go in faster than real time, so the analyzer's timestamps are all about equal and
    # it scores the whole buffer; the 0.3 s of lead silence is inside the 0.5 s + VAD-start
    # window it would keep in real time, so it scores the same audio either way.
    try:
        for start in range(0, len(audio) - size + 1, size):
            frame = audio[start : start + size]
            # The VAD processor pushes the frame on before judging it, so the strategy sees
            # each frame with the flag as it stood before that frame.
            analyzer.append_audio(frame, speaking)
            state = vad._run_analyzer(frame)
            if state == VADState.SPEAKING and not speaking:
                speaking = True
                analyzer.update_vad_start_secs(vad.params.start_secs)
            elif state == VADState.QUIET and speaking:
                began = time.perf_counter()
                verdict, metrics = await analyzer.analyze_end_of_turn()
                elapsed = (time.perf_counter() - began) * 1000
                return Verdict(
                    verdict == EndOfTurnState.COMPLETE,
                    metrics.probability,
                    elapsed,
                    heard_samples=(start + size) // 2,
                )
        return None  # Silero never stopped: a bench bug, reported as such
    finally:
        await analyzer.cleanup()


async def judge_all(shared, samples, rate: int) -> list[Verdict]:
    verdicts = []
    for text, pcm in samples:
        verdict = await judge(shared, pcm, rate)
        if verdict is None:
            raise SystemExit(f"Silero never stopped on {text!r}")
        verdicts.append(verdict)
    return verdicts


async def concurrent_ms(shared: SharedSmartTurn, pcm: np.ndarray, rounds: int) -> list[float]:
    """Each of CONCURRENT analyzers asked at once, ``rounds`` times: per-analysis wall ms."""
    analyzers = [shared.new_analyzer() for _ in range(CONCURRENT)]
    audio = pcm.tobytes()
    for analyzer in analyzers:
        analyzer.set_sample_rate(8000)
        for start in range(0, len(audio), 320):
            analyzer.append_audio(audio[start : start + 320], True)

    async def one(analyzer) -> float:
        began = time.perf_counter()
        # The analyzer's buffer is cleared only on COMPLETE; ask the model directly so every
        # round scores the same audio.
        await asyncio.get_running_loop().run_in_executor(
            analyzer._model_executor, analyzer._process_speech_segment, analyzer._audio_buffer
        )
        return (time.perf_counter() - began) * 1000

    times: list[float] = []
    for _ in range(rounds):
        times += await asyncio.gather(*(one(a) for a in analyzers))
    for analyzer in analyzers:
        await analyzer.cleanup()
    return times


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


# ---- report ----


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rate_of(verdicts: list[Verdict], threshold: float = 0.5) -> float:
    return sum(v.probability > threshold for v in verdicts) / len(verdicts)


def turn_end_secs(verdicts: list[Verdict], fallback: float) -> list[float]:
    """When a finished caller's turn ends, after their last voiced audio (STT not counted)."""
    return [
        VAD_STOP_SECS + (v.inference_ms / 1000 if v.complete else fallback) for v in verdicts
    ]


def whisper_secs(samples, verdicts) -> list[float]:
    """Whisper's time on each turn, as ``WhisperSTT`` gets it (the segment + 0.5 s of silence)."""
    from callwright.voice.engines.whisper import transcribe

    pad = np.zeros(SAMPLE_RATE // 2, dtype=np.int16)
    transcribe(pad.tobytes(), SAMPLE_RATE)  # loads the model
    times = []
    for (_, pcm), verdict in zip(samples, verdicts, strict=True):
        segment = np.concatenate([pcm[: verdict.heard_samples], pad]).tobytes()
        began = time.perf_counter()
        transcribe(segment, SAMPLE_RATE)
        times.append(time.perf_counter() - began)
    return times


def print_cases(phone, verdicts, wide) -> None:
    print(f"{'case':<48} {'phone 8 kHz µ-law':<20} {'wideband 16 kHz':<16} p(complete) 8k/16k")
    for kind, label in (("complete", "COMPLETE"), ("cut", "INCOMPLETE cut"), ("alone", "alone")):
        print(f"-- {label}")
        for (text, _), v, w in zip(phone[kind], verdicts[kind], wide[kind], strict=True):
            said = "complete" if v.complete else "incomplete"
            wide_said = "complete" if w.complete else "incomplete"
            odds = f"{v.probability:.2f}/{w.probability:.2f}"
            print(f"{text[:47]:<48} {said:<20} {wide_said:<16} {odds}")
    print()


def print_rates(verdicts, wide) -> dict:
    print(f"{'threshold':<10} {'rate (phone 8 kHz / wideband 16 kHz)':<52}")
    rows = {}
    for threshold in THRESHOLDS:
        row = {
            kind: [round(rate_of(got[kind], threshold), 3) for got in (verdicts, wide)]
            for kind in ("complete", "cut", "alone")
        }
        rows[str(threshold)] = row
        print(
            f"{threshold:<10} COMPLETE ended at once {row['complete'][0]:>4.0%} / "
            f"{row['complete'][1]:>4.0%}   INCOMPLETE cut off {row['cut'][0]:>4.0%} / "
            f"{row['cut'][1]:>4.0%}   spoken alone cut off {row['alone'][0]:>4.0%} / "
            f"{row['alone'][1]:>4.0%}"
        )
    print("(Pipecat's threshold is 0.5 and not a parameter)")
    print()
    return rows


async def main() -> None:
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    silero_vad().session  # noqa: B018  (loaded before the RSS baseline)
    rss_before = rss_mb()
    shared = SharedSmartTurn()
    load_began = time.perf_counter()
    shared.session  # noqa: B018
    load_ms = (time.perf_counter() - load_began) * 1000
    rss_loaded = rss_mb()
    warm = shared.new_analyzer()
    warm.set_sample_rate(8000)
    warm._predict_endpoint(np.zeros(8000, dtype=np.float32))  # onnxruntime's arena, first run
    rss_used = rss_mb()

    log("rendering the caller's lines with Piper …")
    phone = cases(narrowband, 8000)
    control = cases(wideband, 16000)
    log(f"judging ({time.perf_counter() - began:.0f} s) …")
    verdicts = {kind: await judge_all(shared, samples, 8000) for kind, samples in phone.items()}
    wide = {kind: await judge_all(shared, samples, 16000) for kind, samples in control.items()}
    log(f"timing ({time.perf_counter() - began:.0f} s) …")
    single = [v.inference_ms for vs in verdicts.values() for v in vs]
    crowd = await concurrent_ms(shared, phone["complete"][12][1], rounds=3)

    whisper = whisper_secs(phone["complete"], verdicts["complete"])

    analyzer = shared.new_analyzer()
    analyzer.set_sample_rate(8000)
    frame = phone["complete"][0][1][:160].tobytes()
    appended = time.perf_counter()
    for _ in range(5000):
        analyzer.append_audio(frame, True)
    append_us = (time.perf_counter() - appended) / 5000 * 1e6

    print_cases(phone, verdicts, wide)
    rates = print_rates(verdicts, wide)
    print(f"inference ms, one at a time:  p50 {pct(single, 50):.0f}  p95 {pct(single, 95):.0f}")
    print(
        f"inference ms, {CONCURRENT} at once:     p50 {pct(crowd, 50):.0f}  "
        f"p95 {pct(crowd, 95):.0f}"
    )
    print(f"append_audio per 20 ms frame: {append_us:.1f} µs")
    print(
        f"model load {load_ms:.0f} ms; RSS +{rss_loaded - rss_before:.0f} MB loaded, "
        f"+{rss_used - rss_before:.0f} MB after the first inference"
    )
    latency = {}
    for fallback in FALLBACKS_SECS:
        ends = turn_end_secs(verdicts["complete"], fallback)
        latency[f"fallback_{fallback:g}s"] = {
            "mean_ms": round(statistics.mean(ends) * 1000),
            "p50_ms": round(pct(ends, 50) * 1000),
            "p90_ms": round(pct(ends, 90) * 1000),
        }
        print(
            f"finished caller's turn ends (instant STT), smart-turn with a {fallback:g} s "
            f"fallback: mean "
            f"{statistics.mean(ends) * 1000:.0f} ms, p50 {pct(ends, 50) * 1000:.0f}, "
            f"p90 {pct(ends, 90) * 1000:.0f} after the last word; today "
            f"{TODAY_SECS * 1000:.0f} ms on every turn"
        )
    # With offline Whisper both strategies also wait for its transcript of the turn.
    today = [VAD_STOP_SECS + max(TODAY_SECS - VAD_STOP_SECS, w) for w in whisper]
    smart = [
        max(end, VAD_STOP_SECS + w)
        for end, w in zip(turn_end_secs(verdicts["complete"], 1.0), whisper, strict=True)
    ]
    latency["with_whisper"] = {
        "whisper_p50_ms": round(pct(whisper, 50) * 1000),
        "today_mean_ms": round(statistics.mean(today) * 1000),
        "smart_fallback_1s_mean_ms": round(statistics.mean(smart) * 1000),
    }
    print(
        f"with offline Whisper (p50 {pct(whisper, 50) * 1000:.0f} ms a turn, run alone): today "
        f"mean {statistics.mean(today) * 1000:.0f} ms, smart-turn (1 s fallback) mean "
        f"{statistics.mean(smart) * 1000:.0f} ms"
    )
    print(
        f"(whole run: {time.perf_counter() - began:.0f} s on {os.cpu_count()} CPUs, "
        f"load average {load_before:.1f} at the start)"
    )
    print(
        json.dumps(
            {
                "metric": "smart_turn_eval",
                "complete_n": len(verdicts["complete"]),
                "incomplete_n": len(verdicts["cut"]),
                "complete_accuracy": round(rate_of(verdicts["complete"]), 3),
                "false_cut_rate": round(rate_of(verdicts["cut"]), 3),
                "false_cut_rate_alone": round(rate_of(verdicts["alone"]), 3),
                "wideband": {
                    "complete_accuracy": round(rate_of(wide["complete"]), 3),
                    "false_cut_rate": round(rate_of(wide["cut"]), 3),
                    "false_cut_rate_alone": round(rate_of(wide["alone"]), 3),
                },
                "by_threshold": rates,
                "inference_ms": {
                    "p50": round(pct(single, 50), 1),
                    "p95": round(pct(single, 95), 1),
                },
                "inference_ms_concurrent": {
                    "n": CONCURRENT,
                    "p50": round(pct(crowd, 50), 1),
                    "p95": round(pct(crowd, 95), 1),
                },
                "append_audio_us": round(append_us, 1),
                "load_ms": round(load_ms),
                "rss_mb_loaded": round(rss_loaded - rss_before, 1),
                "rss_mb_after_first_inference": round(rss_used - rss_before, 1),
                "turn_end_ms": {"today": round(TODAY_SECS * 1000), **latency},
                "load_average": round(load_before, 2),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
