"""What a scripted agent says, as stored on the agent: ordered replies, keyword rules, a fallback.

Kept apart from ``engines.llm_scripted`` so the agents API can validate a script without loading
Pipecat.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from callwright.domain.agent_spec import DEFAULT_SCRIPT_FALLBACK
from callwright.domain.functions import NAME_PATTERN as FUNCTION_NAME_PATTERN
from callwright.domain.text import check_free_text, check_json, check_line

DEFAULT_FALLBACK = DEFAULT_SCRIPT_FALLBACK

Line = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(check_free_text),
]
SafeJsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]
Keyword = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(check_line)
]


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Line
    end_call: bool = Field(False, strict=True)


class Rule(BaseModel):
    """Answer ``reply`` when the caller says any of ``keywords`` (whole words, any case).

    ``opt_out``: then put the caller's number on the suppression list (the ``opt_out`` tool).
    ``transfer``: then hand the call to the agent's ``transfer_number`` (the ``transfer_call`` tool;
    the agent needs ``transfer_enabled``).
    ``function``: then call the agent's custom function of that name with ``arguments``."""

    model_config = ConfigDict(extra="forbid")

    keywords: Annotated[list[Keyword], Field(min_length=1, max_length=50)]
    reply: Line
    end_call: bool = Field(False, strict=True)
    opt_out: bool = Field(False, strict=True)
    transfer: bool = Field(False, strict=True)
    function: Annotated[str, StringConstraints(max_length=64, pattern=FUNCTION_NAME_PATTERN)] | None = None
    arguments: SafeJsonObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_tool(self) -> Rule:
        if sum([self.opt_out, self.transfer, self.function is not None]) > 1:
            raise ValueError("must do one of opt_out, transfer or a function; use two rules")
        if self.arguments and not self.function:
            raise ValueError("arguments need a function to call")
        return self


class AgentScriptConfig(BaseModel):
    """What a scripted agent says. Rules are tried in order; the first that matches answers."""

    model_config = ConfigDict(extra="forbid")

    replies: Annotated[list[Reply], Field(max_length=200)] = Field(default_factory=list)
    rules: Annotated[list[Rule], Field(max_length=200)] = Field(default_factory=list)
    fallback: Line = DEFAULT_FALLBACK


__all__ = ["DEFAULT_FALLBACK", "AgentScriptConfig", "Reply", "Rule"]
