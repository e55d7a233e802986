"""Knowledge-base passages added to the model's context, per caller turn.

Sits between the user context aggregator and the LLM: when a caller's turn reaches the model
(an ``LLMContextFrame``), the caller's last words are searched in the agent's documents and the
passages that pass the agent's ``kb_threshold`` go in as one system message just before those
words; the previous turn's passages are taken out, so the context carries one set at a time.

Why per-turn context and not a ``search_knowledge`` tool: a tool costs a second model round trip
whenever the model decides to use it (the model answers with the call, we search, the model is
asked again), hundreds of milliseconds on any hosted model, while the search itself takes about
a millisecond; the threshold keeps unrelated passages out. docs/knowledge-base.md has the figures.

With ``kb_enable_llm_processing`` the message carries the operator's LLM's notes on the passages
instead (``services.kb_retrieval``): one more LLM request, bounded, on turns that find passages.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from pipecat.frames.frames import Frame, LLMContextFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from callwright.domain.knowledge import DEFAULT_RESULT_HEADER, PROCESSED_HEADER

log = logging.getLogger("callwright.voice")


class TurnKnowledge(Protocol):
    async def context_for(self, words: str) -> str | None:
        """The system message for a caller's words, or None."""
        ...


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _is_knowledge(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") == "system"
        and _text(message.get("content")).startswith((DEFAULT_RESULT_HEADER, PROCESSED_HEADER))
    )


class KnowledgeContext(FrameProcessor):
    def __init__(self, knowledge: TurnKnowledge) -> None:
        super().__init__(name="knowledge-context")
        self._knowledge = knowledge

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction is FrameDirection.DOWNSTREAM:
            await self._add_passages(frame)
        await self.push_frame(frame, direction)

    async def _add_passages(self, frame: LLMContextFrame) -> None:
        context = frame.context
        messages: list[Any] = [m for m in context.get_messages() if not _is_knowledge(m)]
        last_user = next(
            (i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], dict) and messages[i].get("role") == "user"),
            None,
        )
        if last_user is None:
            return
        words = _text(messages[last_user].get("content"))
        try:
            passages = await self._knowledge.context_for(words)
        except Exception:  # the turn goes on without passages rather than not at all
            log.exception("knowledge search failed; the turn goes on without it")
            passages = None
        if passages:
            messages.insert(last_user, {"role": "system", "content": passages})
        context.set_messages(messages)
