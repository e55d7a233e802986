"""Embeddings from WordLlama (``wordllama`` on PyPI, MIT): its default model ``l2_supercat``,
256 dimensions, ships inside the wheel (16 MB of float16 weights plus a 1.8 MB tokenizer), is
plain numpy (no torch) and is loaded here from the package's own directory with downloads
disabled, so it never reaches for the network.

Vectors are L2-normalised float32, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "wordllama l2_supercat (256-d)"
DIMENSIONS = 256


class Embedder:
    """The process's one embedding model, loaded on first use (about a second)."""

    _lock = threading.Lock()
    _model: Any = None
    load_seconds: float | None = None

    @classmethod
    def load(cls) -> None:
        """Load the model now (about a second: call it off the event loop)."""
        cls._loaded()

    @classmethod
    def _loaded(cls) -> Any:
        if cls._model is None:
            with cls._lock:
                if cls._model is None:
                    started = time.perf_counter()
                    import wordllama
                    from wordllama import WordLlama

                    # The wheel keeps weights/ and tokenizers/ beside its code: used as the
                    # cache directory, both are found there and nothing is downloaded.
                    package = Path(wordllama.__file__).parent
                    cls._model = WordLlama.load(dim=DIMENSIONS, cache_dir=package, disable_download=True)
                    cls.load_seconds = time.perf_counter() - started
        return cls._model

    @classmethod
    def embed(cls, texts: list[str]) -> np.ndarray:
        """One normalised row per text (float32, ``DIMENSIONS`` wide)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = np.asarray(cls._loaded().embed(texts, norm=True), dtype=np.float32)
        return np.ascontiguousarray(vectors.reshape(len(texts), DIMENSIONS))

    @classmethod
    def embed_one(cls, text: str) -> np.ndarray:
        return cls.embed([text])[0]


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")
