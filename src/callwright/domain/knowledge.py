"""Knowledge-base rules with no framework in them: accepted files, document states, chunking,
the ``kb_threshold`` levels and how retrieved passages are shown to the model.

Vocobase (docs.vocobase.com/knowledge-base, /api-reference/documents/get-presigned-upload-url,
/api-reference/agent-documents/link-documents-to-an-agent): PDF, DOCX, TXT, MD and PNG, JPEG,
GIF, WEBP up to 50 MB (52428800 bytes); the upload URL lives 900 s; 1–20 document ids per link
request and at most 100 documents linked to one agent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

MAX_FILE_BYTES = 52_428_800
UPLOAD_URL_TTL_SECS = 900
NAME_MAX = 100
LINK_IDS_MAX = 20
DOCUMENTS_PER_AGENT_MAX = 100
WEB_PAGE_MAX_BYTES = 5 * 1024 * 1024  # a web link's page is read up to this size
SUMMARY_CHARS = 300  # ``kb_include_summaries``: the document's opening, this long at most

MIME_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/plain": "txt",
    "text/markdown": "md",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
# Images are accepted by Vocobase (OCR); this server has no OCR, so it refuses them with 415.
IMAGE_MIME_TYPES = frozenset(m for m in MIME_TYPES if m.startswith("image/"))
WEB_LINK_TYPE = "url"


class DocumentStatus(StrEnum):
    UPLOADING = "uploading"  # created; waiting for the bytes and the confirm step
    PROCESSING = "processing"  # text being extracted, chunked and embedded
    READY = "ready"
    FAILED = "failed"  # with a reason


class SyncStatus(StrEnum):
    """A linked document's state in the agent's knowledge: the index is per document, so a
    document is synced to every agent it is linked to as soon as it is ready."""

    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"


def sync_status_of(status: str) -> SyncStatus:
    if status == DocumentStatus.READY:
        return SyncStatus.SYNCED
    if status == DocumentStatus.FAILED:
        return SyncStatus.FAILED
    return SyncStatus.PENDING


class KbThreshold(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Least cosine similarity (WordLlama l2_supercat 256-d) a passage needs to reach the model.
# "low" lets more (looser) passages through, "high" only close matches. Calibrated on the
# questions and passages of tests/services/test_knowledge_base.py; see docs/knowledge-base.md.
THRESHOLD_MIN_SCORE: dict[KbThreshold, float] = {
    KbThreshold.LOW: 0.12,
    KbThreshold.MEDIUM: 0.27,
    KbThreshold.HIGH: 0.45,
}
TOP_K = 4  # passages at most per turn


def min_score(threshold: str | None) -> float:
    return THRESHOLD_MIN_SCORE[KbThreshold(threshold or KbThreshold.MEDIUM)]


# --- chunking ----------------------------------------------------------------------------------

CHUNK_CHARS = 700  # about 120 words: one answerable passage
CHUNK_OVERLAP_SENTENCES = 1

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n{2,}")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def normalize_text(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\x00", "").splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def chunk_text(text: str, *, max_chars: int = CHUNK_CHARS) -> list[str]:
    """Passages of whole sentences, each at most ``max_chars`` (a longer sentence is cut at
    word boundaries), the last sentence of one repeated at the start of the next."""
    sentences: list[str] = []
    for part in _SENTENCE_END.split(normalize_text(text)):
        part = part.strip()
        while len(part) > max_chars:
            cut = part.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            sentences.append(part[:cut].strip())
            part = part[cut:].strip()
        if part:
            sentences.append(part)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in sentences:
        if current and size + len(sentence) + 1 > max_chars:
            chunks.append(" ".join(current))
            current = current[-CHUNK_OVERLAP_SENTENCES:] if CHUNK_OVERLAP_SENTENCES else []
            size = sum(len(s) + 1 for s in current)
            if size + len(sentence) + 1 > max_chars:
                current, size = [], 0
        current.append(sentence)
        size += len(sentence) + 1
    if current:
        chunks.append(" ".join(current))
    return chunks


def summary_of(text: str) -> str:
    """A document's extractive summary (``kb_include_summaries``): its opening words."""
    text = " ".join(normalize_text(text).split())
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text.rfind(" ", 0, SUMMARY_CHARS)
    return text[: cut if cut > 0 else SUMMARY_CHARS] + "…"


# --- what the model sees -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Passage:
    document_id: str
    document_name: str
    text: str
    score: float
    summary: str | None = None


DEFAULT_RESULT_HEADER = (
    "Knowledge base: passages from the account's documents that may answer the caller's last "
    "words. Use them when they answer; do not mention them otherwise."
)
_PLACEHOLDER = re.compile(r"\{\{\s*(content|document_name|score|summary)\s*\}\}")


def render_passages(
    passages: Sequence[Passage], *, result_format: str | None = None, include_summaries: bool = False
) -> str | None:
    """The system message carrying a turn's passages, or None when there are none.

    ``kb_result_format``, when set, is the template of one passage: ``{{content}}``,
    ``{{document_name}}``, ``{{score}}`` and ``{{summary}}`` are filled in; text outside them is
    kept as written."""
    if not passages:
        return None
    blocks = []
    for passage in passages:
        values = {
            "content": passage.text,
            "document_name": passage.document_name,
            "score": f"{passage.score:.2f}",
            "summary": passage.summary or "",
        }
        if result_format and result_format.strip():
            block = _PLACEHOLDER.sub(lambda m, v=values: v[m.group(1)], result_format)  # type: ignore[misc]
        else:
            block = f"[{passage.document_name}] {passage.text}"
        if include_summaries and passage.summary and not (result_format and "summary" in result_format):
            block = f"{block}\n(Document summary: {passage.summary})"
        blocks.append(block)
    return DEFAULT_RESULT_HEADER + "\n\n" + "\n\n".join(blocks)


# ``kb_enable_llm_processing``: the turn's passages and the caller's words go to the operator's
# LLM first, and its answer replaces the passages in the turn's context.
DEFAULT_LLM_SYSTEM_PROMPT = (
    "You help a phone agent answer a caller. You get the caller's last words and passages from the "
    "account's documents. Reply with only the facts from the passages that answer the caller, in at "
    "most three short plain sentences. If nothing in the passages answers, reply with exactly: NONE"
)
PROCESSED_HEADER = DEFAULT_RESULT_HEADER.replace("passages from", "notes drawn from")
NOTHING_RELEVANT = "NONE"
PROCESSED_MAX_CHARS = 2000  # an answer longer than this is cut (the request asks for a few sentences)


def processing_messages(*, system_prompt: str | None, passages: str, words: str) -> list[dict[str, str]]:
    """The processing request's messages: the prompt, then the caller's words and the passages
    (``passages`` as ``render_passages`` wrote them, header and all)."""
    prompt = system_prompt if system_prompt and system_prompt.strip() else DEFAULT_LLM_SYSTEM_PROMPT
    return [
        {"role": "system", "content": prompt},
        {"role": "user", "content": f"Caller said: {words}\n\n{passages}"},
    ]


def render_processed(answer: str) -> str | None:
    """The system message carrying the processing answer; None when it found nothing relevant
    (then the turn goes on without knowledge) or said nothing."""
    text = answer.strip()
    if not text or text.rstrip(".").upper() == NOTHING_RELEVANT:
        return None
    return PROCESSED_HEADER + "\n\n" + text[:PROCESSED_MAX_CHARS]
