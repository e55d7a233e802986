"""Knowledge-base rules: chunking, threshold levels, and how passages are shown to the model
(``kb_result_format``, ``kb_include_summaries``); and the per-turn context processor keeping one
set of passages in the model's context at a time."""

from __future__ import annotations

import itertools

import pytest
from pipecat.frames.frames import LLMContextFrame
from pipecat.processors.aggregators.llm_context import LLMContext

from callwright.domain import knowledge as kb
from callwright.voice.knowledge import KnowledgeContext


def test_chunks_keep_whole_sentences_within_the_size_and_overlap_by_one():
    sentences = [f"Sentence number {i} says something about topic {i}." for i in range(40)]
    chunks = kb.chunk_text(" ".join(sentences), max_chars=200)
    assert all(len(c) <= 200 for c in chunks) and len(chunks) > 5
    assert all(c.endswith(".") for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after.startswith(before.split(". ")[-1].rstrip("."))  # the last sentence again
    assert "".join(chunks).count("Sentence number 39") >= 1


def test_a_sentence_longer_than_a_chunk_is_cut_at_words():
    chunks = kb.chunk_text("word " * 400, max_chars=100)
    assert all(len(c) <= 100 for c in chunks) and all(not c.startswith(" ") for c in chunks)


def test_threshold_levels_are_ordered_and_null_is_medium():
    assert kb.min_score("low") < kb.min_score("medium") < kb.min_score("high")
    assert kb.min_score(None) == kb.min_score("medium")
    with pytest.raises(ValueError):
        kb.min_score("very")


PASSAGES = [
    kb.Passage("d1", "Branches.pdf", "Pune opens at 9:30.", 0.61, "Sunrise Bank branches and hours."),
    kb.Passage("d2", "Refunds.docx", "Refunds take 7 days.", 0.31, None),
]


def test_passages_are_rendered_by_default_with_their_document_names():
    text = kb.render_passages(PASSAGES)
    assert text is not None and text.startswith(kb.DEFAULT_RESULT_HEADER)
    assert "[Branches.pdf] Pune opens at 9:30." in text and "[Refunds.docx] Refunds take 7 days." in text
    assert "summary" not in text.lower()
    assert kb.render_passages([]) is None


def test_the_result_format_and_summaries_shape_each_passage():
    text = kb.render_passages(PASSAGES, result_format="<{{document_name}} score={{score}}>{{content}}</>")
    assert "<Branches.pdf score=0.61>Pune opens at 9:30.</>" in text  # type: ignore[operator]
    with_summaries = kb.render_passages(PASSAGES, include_summaries=True)
    assert "(Document summary: Sunrise Bank branches and hours.)" in with_summaries  # type: ignore[operator]
    in_format = kb.render_passages(PASSAGES, result_format="{{content}} — {{summary}}", include_summaries=True)
    assert "Pune opens at 9:30. — Sunrise Bank branches and hours." in in_format  # type: ignore[operator]
    assert "(Document summary" not in in_format  # type: ignore[operator]


def test_a_summary_is_the_documents_opening_words():
    assert kb.summary_of("Short text.") == "Short text."
    long = kb.summary_of("word " * 200)
    assert len(long) <= kb.SUMMARY_CHARS + 1 and long.endswith("…")


class _Knowledge:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def context_for(self, words: str) -> str | None:
        self.asked.append(words)
        return None if "weather" in words else f"{kb.DEFAULT_RESULT_HEADER}\n\nabout: {words}"


async def test_the_context_carries_one_set_of_passages_just_before_the_callers_words():
    knowledge = _Knowledge()
    processor = KnowledgeContext(knowledge)
    context = LLMContext([{"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Pune hours?"}])
    await processor._add_passages(LLMContextFrame(context))
    roles = [m["role"] for m in context.get_messages()]  # type: ignore[index]
    assert roles == ["assistant", "system", "user"]
    context.add_message({"role": "assistant", "content": "9:30."})
    context.add_message({"role": "user", "content": "And refunds?"})
    await processor._add_passages(LLMContextFrame(context))
    messages = context.get_messages()
    assert [m["role"] for m in messages] == ["assistant", "user", "assistant", "system", "user"]  # type: ignore[index]
    assert messages[3]["content"].endswith("about: And refunds?")  # type: ignore[index]
    context.add_message({"role": "user", "content": "What is the weather?"})
    await processor._add_passages(LLMContextFrame(context))
    assert "system" not in [m["role"] for m in context.get_messages()]  # type: ignore[index]
    assert knowledge.asked == ["Pune hours?", "And refunds?", "What is the weather?"]
