"""What a scripted agent says, as stored on the agent: ordered replies, keyword rules, a fallback.

Kept apart from ``engines.llm_scripted`` so the agents API can validate a script without loading
Pipecat.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from callwright.domain.agent_spec import DEFAULT_SCRIPT_FALLBACK
from callwright.domain.text import check_free_text, check_line

DEFAULT_FALLBACK = DEFAULT_SCRIPT_FALLBACK

Line = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(check_free_text),
]
Keyword = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(check_line)
]


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Line
    end_call: bool = Field(False, strict=True)


class Rule(BaseModel):
    """Answer ``reply`` when the caller says any of ``keywords`` (whole words, any case)."""

    model_config = ConfigDict(extra="forbid")

    keywords: Annotated[list[Keyword], Field(min_length=1, max_length=50)]
    reply: Line
    end_call: bool = Field(False, strict=True)


class AgentScriptConfig(BaseModel):
    """What a scripted agent says. Rules are tried in order; the first that matches answers."""

    model_config = ConfigDict(extra="forbid")

    replies: Annotated[list[Reply], Field(max_length=200)] = Field(default_factory=list)
    rules: Annotated[list[Rule], Field(max_length=200)] = Field(default_factory=list)
    fallback: Line = DEFAULT_FALLBACK


__all__ = ["DEFAULT_FALLBACK", "AgentScriptConfig", "Reply", "Rule"]
