"""One Silero VAD model per process, shared by every call.

Pipecat's ``SileroVADAnalyzer`` opens its own onnxruntime session for every instance: about 35 ms
and 10 MB of RSS per call (measured on the 2-core box). The network itself is stateless; what
belongs to one audio stream is the recurrent state and context that ``SileroOnnxModel`` keeps in
``_state``/``_context``. So each call gets a fresh ``SileroOnnxModel`` state around the process's
single ``InferenceSession`` (onnxruntime allows concurrent ``run()`` calls on one session).

The calls on one event loop have their windows scored together (``SileroBatch``): a window a
call hands in waits for the end of the loop's current round of ready callbacks (under load, up to
5 ms), and every window handed in meanwhile goes through one ONNX run. Silero's rows are
independent, so each stream's confidences are exactly those of scoring it alone; one run over 8
windows costs about what 3 single runs do.

Each analyzer also follows where the caller's voice began and ended, finer than Silero's windows
do (``VoiceSpan``): a turn starts once the voice has lasted ``start_secs`` from its onset, and
``speech_ended_at`` says where it ended.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import onnxruntime
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState

SILERO_PACKAGE = "pipecat.audio.vad.data"
SILERO_MODEL = "silero_vad.onnx"
PHONE_MIN_VOLUME = 0.4
PHONE_VOLUME_SMOOTHING = 0.5
# How far before the first window scored as speech the voice's onset is looked for (96 ms).
ONSET_LOOKBACK_WINDOWS = 3
# A window Silero scores under this is silence beyond doubt (silence scores 0.00-0.01). One above
# it but under the speech threshold may be the soft start of the caller's next words, which
# Silero can take 0.2 s to score as speech (a "to…" after a pause, at some of its alignments
# on the 32 ms grid).
SILENT_CONFIDENCE = 0.05

log = logging.getLogger("callwright.voice")


class VoiceSpan:
    """Where the voice in a stream began and last ended, to within 8 ms.

    Silero's windows sit on a 32 ms grid of their own, and its confidence (with Pipecat's volume
    gate, a 400 ms loudness window smoothed) lags the voice by a window or two both ways:

    - The stop decision comes ``stop_secs`` of unvoiced windows after the last window scored as
      speech, which is often one or two windows past the voice. So "the stop event less
      ``stop_secs``" lands 0–110 ms after the caller went quiet (against the simulator's caller).
    - The first window scored as speech often comes a window or two after the voice began, so
      counting ``start_secs`` of speech windows from it starts the caller's turn (and barge-in)
      late.

    In the windows scored as speech this finds the blocks whose level is within ``FLOOR_DB`` of
    the utterance's loudest: the last is where the voice ended; the voice began where the run of
    such blocks leading into the first of those windows begins (up to 96 ms before it). Windows
    scored as not speech never move the end, so line noise after the voice cannot; and Silero
    still decides whether there was speech.
    """

    BLOCK_SECS = 0.008
    FLOOR_DB = 30.0  # a block this far below the utterance's loudest is not voice any more
    MIN_LEVEL = 30.0  # RMS in 16-bit units (about -61 dBFS): never voice, whatever the utterance

    def __init__(self, sample_rate: int) -> None:
        self._block = max(1, round(sample_rate * self.BLOCK_SECS))
        self._peak = 0.0
        self.onset: int | None = None  # stream sample index of the first voiced block
        self.end: int | None = None  # stream sample index just past the last voiced block

    def _levels(self, audio: bytes) -> np.ndarray:
        samples = np.frombuffer(audio, np.int16)
        blocks = len(samples) // self._block
        shaped = samples[: blocks * self._block].astype(np.float32).reshape(blocks, self._block)
        return np.sqrt(np.mean(shaped * shaped, axis=1))

    def _floor(self) -> float:
        return max(self._peak * 10 ** (-self.FLOOR_DB / 20), self.MIN_LEVEL)

    def utterance_starts(self, before: bytes, window: bytes, first_sample: int) -> None:
        """The first window of an utterance scored as speech, at stream sample ``first_sample``,
        and the audio just before it: Silero often scores a soft onset (a breathy "h", an "s")
        as speech only a window or two in. The onset is where the run of voiced blocks that
        leads into this window begins (a one-block dip allowed), within ``before``."""
        levels = self._levels(window)
        self._peak = float(levels.max()) if levels.size else 0.0
        earlier = self._levels(before)
        voiced = np.concatenate([earlier, levels]) >= self._floor()
        inside = voiced[earlier.size :]
        onset = earlier.size + (int(np.argmax(inside)) if inside.any() else 0)
        while onset > 0 and (voiced[onset - 1] or (onset > 1 and voiced[onset - 2])):
            onset -= 1 if voiced[onset - 1] else 2
        self.onset = first_sample - (earlier.size - onset) * self._block

    def voiced(self, audio: bytes) -> bool:
        """Whether ``audio`` (empty: trivially) holds a block within ``FLOOR_DB`` of the
        utterance's loudest."""
        levels = self._levels(audio)
        return not levels.size or bool(levels.max() >= self._floor())

    def speech_window(self, window: bytes, first_sample: int) -> bool:
        """A window Silero scored as speech, starting at stream sample ``first_sample``; whether
        the voice's end moved."""
        levels = self._levels(window)
        if not levels.size:
            return False
        self._peak = max(self._peak, float(levels.max()))
        voiced = np.flatnonzero(levels >= self._floor())
        if not voiced.size:
            return False
        self.end = first_sample + (int(voiced[-1]) + 1) * self._block
        return True


class _StreamSileroModel(SileroOnnxModel):
    """Silero's per-stream state around a session loaded once for the whole process."""

    def __init__(self, session: onnxruntime.InferenceSession):
        # Not calling super().__init__(), which would load the model again.
        self.session = session
        self.sample_rates = [8000, 16000]
        self.reset_states()


def score_windows(
    session: onnxruntime.InferenceSession,
    streams: Sequence[tuple[SileroOnnxModel, np.ndarray]],
    sample_rate: int,
) -> np.ndarray:
    """Silero's speech confidence for one window (float32 samples) of each stream, in one run of
    ``session``. Each stream's recurrent state and audio context move on exactly as
    ``SileroOnnxModel.__call__`` moves them for a batch of one, so a stream scored here, alone or
    beside others, reads the same as scored on its own."""
    context_size = 64 if sample_rate == 16000 else 32
    rows, states = [], []
    for model, window in streams:
        if model._last_batch_size != 1 or (model._last_sr and model._last_sr != sample_rate):
            model.reset_states(1)  # new, or reset after a quiet spell (as __call__ does)
        if not model._context.shape[1]:
            model._context = np.zeros((1, context_size), dtype=np.float32)
        rows.append(np.concatenate((model._context[0], window)))
        states.append(model._state)
    audio = np.stack(rows)
    out, state = session.run(
        None,
        {
            "input": audio,
            "state": np.concatenate(states, axis=1),
            "sr": np.array(sample_rate, dtype=np.int64),
        },
    )
    for row, (model, _) in enumerate(streams):
        model._state = state[:, row : row + 1]
        model._context = audio[row : row + 1, -context_size:]
        model._last_sr = sample_rate
        model._last_batch_size = 1
    return out[:, 0]


@dataclass(slots=True)
class _Window:
    session: onnxruntime.InferenceSession
    model: SileroOnnxModel
    samples: np.ndarray
    sample_rate: int
    scored: asyncio.Future[float]


class SileroBatch:
    """The windows the calls on one event loop hand in, scored together in one ONNX run.

    With few calls a window is scored at the start of the loop's next round of ready callbacks,
    with whatever other windows that round handed in: it waits for no timer. Once windows come in
    fast enough that ``WAIT_FOR_WINDOWS`` more are due within ``MAX_WAIT_SECS`` (about 13 calls
    at 8 kHz), the first window of a batch waits ``MAX_WAIT_SECS`` for the others.

    Measured on the 2-core box at 50 calls over two workers: rounds alone gather 1.2–1.5 windows a
    run; the 5 ms wait gathers 4–6, which cut Silero's share of each worker's time from 9–13 % to
    5–7 % and CPU per call by about 5 %. A window run alone costs ~0.2 ms in a busy worker (the
    model is cold in cache), against 0.09 ms in a tight loop.

    Under that load the wait delays the VAD's decisions (a barge-in's start among them) by up to
    5 ms; not the end of turn, whose timer counts from when the caller's audio arrived
    (``CallVADAnalyzer``), nor any audio.
    """

    MAX_WAIT_SECS = 0.005  # the longest a window waits for others under load
    WAIT_FOR_WINDOWS = 2.0  # wait only when this many more windows are due within MAX_WAIT_SECS
    RATE_EVERY_SECS = 0.25

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._pending: list[_Window] = []
        self.runs = 0  # ONNX runs made, and the windows they scored
        self.windows = 0
        self._rate = 0.0  # windows handed in per second, over the last RATE_EVERY_SECS
        self._rate_since = loop.time()
        self._rate_windows = 0

    @property
    def rate(self) -> float:
        """Windows handed in per second, as last measured (over ``RATE_EVERY_SECS``)."""
        return self._rate

    def score(
        self,
        session: onnxruntime.InferenceSession,
        model: SileroOnnxModel,
        samples: np.ndarray,
        sample_rate: int,
    ) -> asyncio.Future[float]:
        """``samples`` (one window, float32) scored on ``model``'s stream, once the round ends."""
        if not self._pending:
            now = self.loop.time()
            if now - self._rate_since >= self.RATE_EVERY_SECS:
                self._rate = self._rate_windows / (now - self._rate_since)
                self._rate_since, self._rate_windows = now, 0
            if self._rate * self.MAX_WAIT_SECS >= self.WAIT_FOR_WINDOWS:
                self.loop.call_later(self.MAX_WAIT_SECS, self._flush)
            else:
                self.loop.call_soon(self._flush)
        self._rate_windows += 1
        scored: asyncio.Future[float] = self.loop.create_future()
        self._pending.append(_Window(session, model, samples, sample_rate, scored))
        return scored

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        groups: dict[tuple[int, int], list[_Window]] = {}
        for window in pending:
            groups.setdefault((id(window.session), window.sample_rate), []).append(window)
        for group in groups.values():
            first = group[0]
            try:
                confidences = score_windows(
                    first.session, [(w.model, w.samples) for w in group], first.sample_rate
                )
            except Exception as exc:
                for window in group:
                    if not window.scored.done():
                        window.scored.set_exception(exc)
                continue
            self.runs += 1
            self.windows += len(group)
            for window, confidence in zip(group, confidences.tolist(), strict=True):
                if not window.scored.done():  # its call may have ended meanwhile
                    window.scored.set_result(confidence)


_loop_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SileroBatch] = (
    weakref.WeakKeyDictionary()
)


def loop_batch() -> SileroBatch:
    """The running event loop's ``SileroBatch``."""
    loop = asyncio.get_running_loop()
    batch = _loop_batches.get(loop)
    if batch is None:
        batch = _loop_batches[loop] = SileroBatch(loop)
    return batch


class CallVADAnalyzer(SileroVADAnalyzer):
    """A ``SileroVADAnalyzer`` for one call, scoring audio with the process's shared model.

    It sets the same attributes ``SileroVADAnalyzer.__init__`` does (tests/voice compare them),
    minus loading the model.
    """

    def __init__(
        self,
        *,
        session: onnxruntime.InferenceSession,
        params: VADParams | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        VADAnalyzer.__init__(self, params=params or VADParams(min_volume=PHONE_MIN_VOLUME))
        # Pipecat smooths the volume gate with factor 0.2, tuned for microphones: from silence it
        # takes ~6 windows (~190 ms) to open, on top of the 0.2 s start window. On 8 kHz phone
        # audio that put speech onset → VAD start at 320–360 ms (sim voices, µ-law); with 0.5 and
        # a 0.4 gate it is 200–300 ms, the start window plus Silero's own onset.
        self._smoothing_factor = PHONE_VOLUME_SMOOTHING
        self._model = _StreamSileroModel(session)
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
        # To follow the voice (VoiceSpan) and place it in time: samples handed to analyze_audio
        # so far and when the last of them arrived, samples scored, the last window's
        # confidence, the audio just before the window scored.
        self._clock = clock
        self._fed_samples = 0
        self._fed_at = 0.0
        self._scored_samples = 0
        self._window_confidence = 0.0
        self._batched_confidence: float | None = None  # the next window's, scored in a batch
        self._recent_audio = b""  # the last ONSET_LOOKBACK_WINDOWS windows scored
        self._voice: VoiceSpan | None = None
        self._speech_ended_at: float | None = None

    @property
    def model_session(self) -> onnxruntime.InferenceSession:
        return self._model.session

    @property
    def speech_ended_at(self) -> float | None:
        """When (``time.monotonic()``) the caller's voice last ended; None before any speech."""
        return self._speech_ended_at

    def quiet_secs_scored(self) -> float | None:
        """Seconds of the caller's audio scored since their voice last ended (None before any
        voice): the pause as the audio has it, whatever the wall clock says. A window that starts
        a new utterance but holds no voiced block yet leaves the old end standing: the pause is
        then over only if VAD also says the caller is not starting again (``voice_resuming``)."""
        voice = self._voice
        if voice is None or voice.end is None or not self.sample_rate:
            return None
        return max(0, self._scored_samples - voice.end) / self.sample_rate

    def pause_heard(self, pause_secs: float, *, slack_secs: float) -> bool:
        """Whether the audio scored so far holds a pause of ``pause_secs`` since the voice ended
        (True before any voice), the caller not starting again. The last ``slack_secs`` of it may
        still be on their way (whole frames, a part window) only while the last window scored is
        silence beyond doubt: a window in between may be the next words beginning, and the
        pause is then judged on all of its audio. With the slack taken regardless, a caller who
        went on after 0.4 s with a soft "to…" lost the turn whenever Silero scored their first
        0.12 s as under the threshold (``tests/voice/test_caller_turns.py``)."""
        if self.voice_resuming:
            return False
        quiet = self.quiet_secs_scored()
        if quiet is None:
            return True
        slack = slack_secs if self._window_confidence < SILENT_CONFIDENCE else 0.0
        return quiet >= pause_secs - slack

    @property
    def voice_resuming(self) -> bool:
        """The caller's voice has come back but is still short of ``start_secs`` (VAD STARTING)."""
        return self._vad_state == VADState.STARTING

    def speech_ended_by(self, stopped_at: float) -> float:
        """When the voice ended, for a stop decision made at ``stopped_at``: ``speech_ended_at``,
        or Pipecat's own reading (the decision less ``stop_secs``) if there is none."""
        ended = self.speech_ended_at
        return stopped_at - self.params.stop_secs if ended is None else ended

    async def analyze_audio(self, buffer: bytes) -> VADState:
        # Pipecat hands every 20 ms frame to a thread of the analyzer's own (one per call) and
        # back. The hop costs more than scoring the frame (~0.12 ms on the 2-core box), and 50
        # calls' threads contend with the event loop for the GIL, which showed as late outbound
        # audio under load. So the frame is scored on the loop, in a batch with other calls'.
        self._fed_samples += len(buffer) // 2
        self._fed_at = self._clock()
        window_bytes = self._vad_frames_num_bytes if self.sample_rate else 0
        # Pipecat's analyzer scores each whole window the buffer completes; it is handed the
        # buffer a window at a time, each window's confidence scored beforehand in the batch.
        while window_bytes and len(self._vad_buffer) + len(buffer) >= window_bytes:
            take = window_bytes - len(self._vad_buffer)
            piece, buffer = buffer[:take], buffer[take:]
            self._batched_confidence = await self._score_in_batch(self._vad_buffer + piece)
            self._run_analyzer(piece)
        state = self._run_analyzer(buffer)
        if state == VADState.STARTING and self._voiced_long_enough():
            self._vad_state = state = VADState.SPEAKING
            self._vad_starting_count = 0
        return state

    def _voiced_long_enough(self) -> bool:
        """Whether the caller has now spoken ``start_secs`` from the voice's onset: every window
        since Silero's first speech window scored as speech (the state is STARTING), at least
        ``_min_confirmed_windows`` of them, and the audio not yet scored (under a window,
        waiting for the rest of it) still voiced.

        Pipecat counts ``start_secs`` in windows from the first one scored as speech, often a
        window or two after the voice began, and decides on the window that completes them.
        Counting from the onset, on the frame that completes ``start_secs``, keeps both Silero's
        onset lag and its 32 ms grid out of the start (and barge-in) time.
        """
        voice = self._voice
        if voice is None or voice.onset is None or not self.sample_rate:
            return False
        if self._vad_starting_count < self._min_confirmed_windows():
            return False
        if (self._fed_samples - voice.onset) / self.sample_rate < self._params.start_secs:
            return False
        return voice.voiced(self._vad_buffer)

    def _min_confirmed_windows(self) -> int:
        # However early the voice began, Silero must have scored this many windows as speech:
        # two fewer than Pipecat's own count (4 of 6, 128 ms, at the default 0.2 s).
        return max(1, self._vad_start_frames - 2)

    async def _score_in_batch(self, window: bytes) -> float:
        samples = np.frombuffer(window, np.int16).astype(np.float32) / 32768.0
        batch = loop_batch()
        try:
            return await batch.score(self._model.session, self._model, samples, self.sample_rate)
        except Exception:
            # As Pipecat's voice_confidence does: a window that cannot be scored is not speech.
            log.exception("Silero VAD could not score a window")
            return 0.0

    def voice_confidence(self, buffer: bytes) -> float:
        confidence: float | np.ndarray
        batched, self._batched_confidence = self._batched_confidence, None
        if batched is None:  # scored alone, by Pipecat (Silero's is a one-element array)
            confidence = super().voice_confidence(buffer)
        else:
            confidence = batched
            self._maybe_reset_model(batched)
        self._window_confidence = float(np.asarray(confidence).reshape(-1)[0])
        return confidence

    def _get_smoothed_volume(self, audio: bytes) -> float:
        # Pipecat's analyzer calls this once per window, right after voice_confidence and before
        # it updates its state from the two: the one place that sees a window, its verdict and
        # the state it started in.
        volume = super()._get_smoothed_volume(audio)
        first_sample = self._scored_samples
        self._scored_samples += len(audio) // 2
        speaking = (
            self._window_confidence >= self._params.confidence
            and volume >= self._params.min_volume
        )
        if speaking:
            self._follow_voice(audio, first_sample)
        keep = ONSET_LOOKBACK_WINDOWS * len(audio)
        self._recent_audio = (self._recent_audio + audio)[-keep:]
        return volume

    def _follow_voice(self, window: bytes, first_sample: int) -> None:
        """A window scored as speech: find the onset of a new utterance, move the voice's end."""
        if self._voice is None:
            self._voice = VoiceSpan(self.sample_rate)
        voice = self._voice
        if self._vad_state == VADState.QUIET:
            voice.utterance_starts(self._recent_audio, window, first_sample)
            self._speech_ended_at = None
        if voice.speech_window(window, first_sample) and voice.end is not None:
            # Audio arrives in real time: a sample's time is when the audio holding it arrived,
            # less the audio that came after it.
            behind = self._fed_samples - voice.end
            self._speech_ended_at = self._fed_at - behind / self.sample_rate


class SharedSileroVAD:
    """The process's Silero model, loaded on first use, and the per-call analyzers built on it."""

    def __init__(self) -> None:
        self._session: onnxruntime.InferenceSession | None = None
        self._lock = threading.Lock()
        self._analyzers: weakref.WeakSet[CallVADAnalyzer] = weakref.WeakSet()
        self.sessions_loaded = 0

    @property
    def session(self) -> onnxruntime.InferenceSession:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = _load_session()
                    self.sessions_loaded += 1
        return self._session

    def new_analyzer(self, params: VADParams | None = None) -> CallVADAnalyzer:
        analyzer = CallVADAnalyzer(session=self.session, params=params)
        self._analyzers.add(analyzer)
        return analyzer

    def live_analyzers(self) -> list[CallVADAnalyzer]:
        return list(self._analyzers)


def _load_session() -> onnxruntime.InferenceSession:
    # The options Pipecat uses: one thread per run() keeps 50 calls from fighting over cores.
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    model = resources.files(SILERO_PACKAGE).joinpath(SILERO_MODEL)
    with resources.as_file(model) as path:
        return onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )


@cache
def silero_vad() -> SharedSileroVAD:
    """The process-wide Silero VAD."""
    return SharedSileroVAD()
