"""One Silero VAD model per process, shared by every call.

Pipecat's ``SileroVADAnalyzer`` opens its own onnxruntime session for every instance: about 35 ms
and 10 MB of RSS per call (measured on the 2-core box). The network itself is stateless; what
belongs to one audio stream is the recurrent state and context that ``SileroOnnxModel`` keeps in
``_state``/``_context``. So each call gets a fresh ``SileroOnnxModel`` state around the process's
single ``InferenceSession`` (onnxruntime allows concurrent ``run()`` calls on one session).
"""

from __future__ import annotations

import threading
import weakref
from functools import cache
from importlib import resources

import onnxruntime
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState

SILERO_PACKAGE = "pipecat.audio.vad.data"
SILERO_MODEL = "silero_vad.onnx"
PHONE_MIN_VOLUME = 0.4
PHONE_VOLUME_SMOOTHING = 0.5


class _StreamSileroModel(SileroOnnxModel):
    """Silero's per-stream state around a session loaded once for the whole process."""

    def __init__(self, session: onnxruntime.InferenceSession):
        # Not calling super().__init__(), which would load the model again.
        self.session = session
        self.sample_rates = [8000, 16000]
        self.reset_states()


class CallVADAnalyzer(SileroVADAnalyzer):
    """A ``SileroVADAnalyzer`` for one call, scoring audio with the process's shared model.

    It sets the same attributes ``SileroVADAnalyzer.__init__`` does (tests/voice compare them),
    minus loading the model.
    """

    def __init__(self, *, session: onnxruntime.InferenceSession, params: VADParams | None = None):
        VADAnalyzer.__init__(self, params=params or VADParams(min_volume=PHONE_MIN_VOLUME))
        # Pipecat smooths the volume gate with factor 0.2, tuned for microphones: from silence it
        # takes ~6 windows (~190 ms) to open, on top of the 0.2 s start window. On 8 kHz phone
        # audio that put speech onset → VAD start at 320–360 ms (sim voices, µ-law); with 0.5 and
        # a 0.4 gate it is 200–300 ms, the start window plus Silero's own onset.
        self._smoothing_factor = PHONE_VOLUME_SMOOTHING
        self._model = _StreamSileroModel(session)
        self._windows_since_reset = 0
        self._low_confidence_windows = 0

    @property
    def model_session(self) -> onnxruntime.InferenceSession:
        return self._model.session

    async def analyze_audio(self, buffer: bytes) -> VADState:
        # Pipecat hands every 20 ms frame to a thread of the analyzer's own (one per call) and
        # back. The hop costs more than scoring the frame (~0.12 ms on the 2-core box), and 50
        # calls' threads contend with the event loop for the GIL, which showed as late outbound
        # audio under load. So the frame is scored on the loop.
        return self._run_analyzer(buffer)


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
