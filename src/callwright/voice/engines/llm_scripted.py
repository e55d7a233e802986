"""A scripted agent for offline use: it answers from a script declared on the agent, not a model.

The script holds ordered replies (the n-th user turn gets the n-th reply, whether or not a rule
answered an earlier turn), keyword rules that win over the ordered list, and a fallback line for
when neither applies. ``ScriptedLLM`` sits where an LLM service sits and speaks its frames: it
takes the last user message from each ``LLMContextFrame`` and answers with
``LLMFullResponseStartFrame``, a few ``LLMTextFrame`` pieces, ``LLMFullResponseEndFrame``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import (
    Frame,
    FunctionCallFromLLM,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings

from callwright.domain.agent_spec import ScriptSpec
from callwright.voice.script_config import (  # noqa: F401  (re-exported)
    DEFAULT_FALLBACK,
    AgentScriptConfig,
    Reply,
    Rule,
)
from callwright.voice.tools import OPT_OUT
from callwright.voice.transfer import TRANSFER_CALL

log = logging.getLogger("callwright.voice")

SCRIPTED = "scripted"
# Words per streamed piece: enough pieces that the TTS aggregator sees a stream, not one blob.
WORDS_PER_PIECE = 4


@dataclass(frozen=True, slots=True)
class ScriptedAnswer:
    text: str
    end_call: bool
    source: str  # "rule", "reply" or "fallback"
    tool: str | None = None  # a tool to call once the text is said (``voice.tools``)
    arguments: Mapping[str, Any] = field(default_factory=dict)


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    # Lookarounds rather than \b, so a keyword that starts or ends with punctuation ("a/c",
    # "c++") still needs a whole-word match; spaces inside a phrase match any whitespace.
    words = r"\s+".join(re.escape(word) for word in keyword.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


class Script:
    """A validated script, its keywords compiled once."""

    def __init__(self, config: ScriptSpec) -> None:
        self.config = config
        self._rules = [
            ([_keyword_pattern(k) for k in rule.keywords], rule) for rule in config.rules
        ]

    def answer(self, user_text: str, *, turn: int) -> ScriptedAnswer:
        """The answer to the ``turn``-th user message (1-based) saying ``user_text``."""
        for patterns, rule in self._rules:
            if any(p.search(user_text) for p in patterns):
                tool = OPT_OUT if rule.opt_out else TRANSFER_CALL if rule.transfer else rule.function
                arguments = {"reason": user_text.strip()[:500]} if rule.opt_out else rule.arguments
                return ScriptedAnswer(rule.reply, rule.end_call, "rule", tool, arguments)
        if 1 <= turn <= len(self.config.replies):
            reply = self.config.replies[turn - 1]
            return ScriptedAnswer(reply.text, reply.end_call, "reply")
        return ScriptedAnswer(self.config.fallback, False, "fallback")


def modelless_settings(name: str) -> LLMSettings:
    """Settings for an LLM processor with no model behind it (a script, a fake): Pipecat wants
    every field set, and none of a model's knobs apply."""
    return LLMSettings(
        model=name,
        system_instruction=None,
        temperature=None,
        max_tokens=None,
        top_p=None,
        top_k=None,
        frequency_penalty=None,
        presence_penalty=None,
        seed=None,
        filter_incomplete_user_turns=False,
        user_turn_completion_config=None,
    )


def user_turns(context: LLMContext) -> list[str]:
    """The text of every user message in the context, oldest first."""
    turns = []
    for message in context.get_messages():
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content: Any = message.get("content")
        if isinstance(content, str):
            turns.append(content)
        elif isinstance(content, Sequence):
            parts = [p for p in content if isinstance(p, dict) and p.get("type") == "text"]
            turns.append(" ".join(p.get("text", "") for p in parts))
    return turns


def _last_role(context: LLMContext) -> str | None:
    messages = context.get_messages()
    last = messages[-1] if messages else None
    return last.get("role") if isinstance(last, dict) else None


def stream_pieces(text: str, words_per_piece: int = WORDS_PER_PIECE) -> list[str]:
    """``text`` in pieces of a few words that join back to exactly ``text``."""
    words = re.findall(r"\S+\s*", text)
    return ["".join(words[i : i + words_per_piece]) for i in range(0, len(words), words_per_piece)]


class ScriptedLLM(LLMService):
    """Answers each user turn from the agent's script, shaped like a streaming LLM's reply.

    When the answer carries ``end_call``, the ``on_end_call_requested`` event fires with the
    ``ScriptedAnswer`` after its last frame was pushed: the call should end once it is spoken.
    """

    def __init__(self, script: ScriptSpec, **kwargs: Any) -> None:
        super().__init__(settings=modelless_settings(SCRIPTED), **kwargs)
        self.script = Script(script)
        self.answers: list[ScriptedAnswer] = []
        self._register_event_handler("on_end_call_requested")

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        turns = user_turns(frame.context)
        await self.push_frame(LLMFullResponseStartFrame())
        # Nobody has spoken yet (the intro is the agent's line, not the script's), or the context
        # ends with a tool's result rather than the caller's words: nothing to answer.
        if not turns or _last_role(frame.context) == "tool":
            await self.push_frame(LLMFullResponseEndFrame())
            return
        answer = self.script.answer(turns[-1], turn=len(turns))
        self.answers.append(answer)
        await self.start_ttfb_metrics()
        for piece in stream_pieces(answer.text):
            await self.stop_ttfb_metrics()
            await self._push_llm_text(piece)
        await self.push_frame(LLMFullResponseEndFrame())
        if answer.tool is not None and not self.has_function(answer.tool):
            # A rule's function detached (or deleted) since the agent was saved: said, not called.
            log.info("the script's tool %r is not on this call; its reply was said without it", answer.tool)
        elif answer.tool is not None:
            # Through Pipecat's own function-call path: the handler a model's call would reach.
            call = FunctionCallFromLLM(
                function_name=answer.tool, tool_call_id=f"script-{len(turns)}-{answer.tool}",
                arguments=dict(answer.arguments), context=frame.context,
            )
            await self.run_function_calls([call])
        if answer.end_call:
            await self._call_event_handler("on_end_call_requested", answer)
