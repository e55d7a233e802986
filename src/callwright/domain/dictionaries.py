"""Speech-recognition dictionaries (Vocobase's ``/dictionaries``): terms the STT is biased toward.

Limits as documented: a name of 1–100 characters (unique per partner), a description of at most
500, any number of terms, and at most ``AGENT_CHAR_LIMIT`` characters across all the dictionaries
attached to one agent (checked when attaching and when a dictionary's terms change).

Terms are normalised: surrounding whitespace trimmed, runs of spaces made one, empty terms and
repeats dropped (first spelling kept). A term's characters are counted after that; a dictionary's
``char_count`` is the sum over its terms.

Callwright's addition, for the agent's own voice: a term written ``written => spoken`` (e.g.
``Nguyen => Win``) also tells TTS how to say it: ``written`` is what the STT is biased toward and
what the agent's lines are matched on, ``spoken`` what the TTS is given in its place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

NAME_MAX = 100
DESCRIPTION_MAX = 500
AGENT_CHAR_LIMIT = 10_000
PRONUNCIATION_ARROW = "=>"
TERM_MAX = 1000  # one term; the docs set no limit, short phrases work best
_SPACES = re.compile(r"\s+")


def normalize_terms(terms: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    kept: list[str] = []
    for raw in terms:
        term = _SPACES.sub(" ", raw).strip()
        if term and term not in seen:
            seen.add(term)
            kept.append(term)
    return kept


def char_count(terms: Sequence[str]) -> int:
    return sum(len(term) for term in terms)


def written(term: str) -> str:
    """The form the STT hears and the transcript shows (a pronunciation's left side)."""
    return term.split(PRONUNCIATION_ARROW, 1)[0].strip() if PRONUNCIATION_ARROW in term else term


def pronunciations(terms: Iterable[str]) -> dict[str, str]:
    """``written => spoken`` terms as {written: spoken}."""
    found: dict[str, str] = {}
    for term in terms:
        if PRONUNCIATION_ARROW in term:
            left, right = (part.strip() for part in term.split(PRONUNCIATION_ARROW, 1))
            if left and right:
                found[left] = right
    return found


def vocabulary(terms: Iterable[str]) -> list[str]:
    """The terms the STT is biased toward: written forms, in order, once each."""
    return normalize_terms(written(term) for term in terms)


class Pronouncer:
    """Replaces each written form by its spoken form, whole words only, longest first."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        keys = sorted(table, key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<!\w)(" + "|".join(re.escape(k) for k in keys) + r")(?!\w)", re.IGNORECASE)
            if keys else None
        )
        self._lower = {k.lower(): v for k, v in table.items()}

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._lower[m.group(1).lower()], text)


def vocabulary_prompt(vocabulary: Iterable[str]) -> str:
    """The terms as a prompt an STT continues from (Whisper's ``initial_prompt``, Sarvam's
    ``prompt``): a glossary line spelling each term the way the transcript should."""
    return "Glossary: " + ", ".join(vocabulary) + "."
