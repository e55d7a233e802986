"""Agent bodies at the HTTP boundary: ``AgentCreate``, ``AgentUpdate``, ``AgentPublic``, ``VoicePublic``.

Every rule failure reads "<field> <rule>" once formatted by ``api.errors`` (validators raise
``ValueError("must …")``). Booleans and integers are strict: ``"true"`` or ``600.0`` are refused
rather than guessed at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    computed_field,
    field_validator,
    model_validator,
)

from callwright.api.schemas.text import FREE_TEXT_CHARS, LINE_CHARS, NAME_CHARS
from callwright.domain import agents as rules
from callwright.domain.phone import E164_RULE, is_e164
from callwright.store.models import Agent
from callwright.voice.catalog import find_voice, installed_voices
from callwright.voice.script_config import AgentScriptConfig

# Vocobase accepts and returns these three in camelCase (shared/spec/vocobase-docs.md §2).
CAMEL_CASE_ALIASES = {
    "transfer_enabled": "transferEnabled",
    "transfer_number": "transferNumber",
    "transfer_message": "transferMessage",
}


def _blank_to_none(value: Any) -> Any:
    """``""`` clears an optional text field, exactly like ``null``."""
    return None if value == "" else value


def _installed_voice(voice_id: str) -> str:
    if find_voice(voice_id) is None:
        ids = ", ".join(v.voice_id for v in installed_voices())
        if not ids:
            raise ValueError("cannot be used: no voices are installed on this server")
        raise ValueError(f"must be one of the installed voices: {ids} (see GET /api/v2/agent/voices)")
    return voice_id


def _e164(value: str) -> str:
    if not is_e164(value):
        raise ValueError(E164_RULE)
    return value


def _call_duration(value: int) -> int:
    if not rules.CALL_DURATION_MIN_SECS <= value <= rules.CALL_DURATION_MAX_SECS:
        raise ValueError(
            f"must be between {rules.CALL_DURATION_MIN_SECS} and {rules.CALL_DURATION_MAX_SECS} "
            "seconds, or null for no cap"
        )
    return value


def _text(max_length: int, *, min_length: int = 0) -> Any:
    return StringConstraints(min_length=min_length, max_length=max_length)


def _optional_text(max_length: int) -> Any:
    return Annotated[
        Annotated[str, _text(max_length), FREE_TEXT_CHARS] | None, BeforeValidator(_blank_to_none)
    ]


AgentName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=rules.AGENT_NAME_MAX),
    NAME_CHARS,
]
Prompt = Annotated[
    str, _text(rules.PROMPT_MAX), FREE_TEXT_CHARS, AfterValidator(rules.check_placeholders)
]
VoiceId = Annotated[
    str, _text(rules.VOICE_ID_MAX, min_length=1), LINE_CHARS, AfterValidator(_installed_voice)
]
Language = Annotated[
    str, _text(35, min_length=1), LINE_CHARS, AfterValidator(rules.normalize_language)
]
AgentType = Literal["outbound", "inbound"]
Flag = Annotated[bool, Strict()]
IntroMessage = Annotated[
    Annotated[
        str, _text(rules.MESSAGE_MAX), FREE_TEXT_CHARS, AfterValidator(rules.check_placeholders)
    ]
    | None,
    BeforeValidator(_blank_to_none),
]
Message = _optional_text(rules.MESSAGE_MAX)
Instructions = _optional_text(rules.INSTRUCTIONS_MAX)
TransferNumber = Annotated[
    Annotated[str, _text(rules.TRANSFER_NUMBER_MAX), LINE_CHARS, AfterValidator(_e164)] | None,
    BeforeValidator(_blank_to_none),
]
CallDuration = Annotated[
    Annotated[int, Strict(), AfterValidator(_call_duration)] | None,
    Field(
        json_schema_extra={
            "minimum": rules.CALL_DURATION_MIN_SECS,
            "maximum": rules.CALL_DURATION_MAX_SECS,
        }
    ),
]
Variables = Annotated[
    list[Annotated[str, Strict()]],
    AfterValidator(rules.check_variable_names),
    Field(json_schema_extra={"maxItems": rules.MAX_VARIABLES}),
]
EngineName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=1,
        max_length=50,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",  # checked before lower-casing
    ),
]


class LlmSettings(BaseModel):
    """Optional LLM choice for the agent; the platform default applies to anything left out."""

    model_config = ConfigDict(extra="forbid")

    provider: EngineName | None = None
    model: Annotated[str, _text(200, min_length=1), LINE_CHARS] | None = None
    temperature: Annotated[float, Strict(), Field(ge=0, le=2)] | None = None


class SttSettings(BaseModel):
    """Optional speech-to-text choice; ``language`` defaults to the agent's language."""

    model_config = ConfigDict(extra="forbid")

    provider: EngineName | None = None
    language: Language | None = None


def _camel(snake: str, default: Any = None) -> Any:
    camel = CAMEL_CASE_ALIASES[snake]
    return Field(
        default,
        validation_alias=AliasChoices(snake, camel),
        description=f"Also accepted as `{camel}` (Vocobase casing).",
    )


class _AgentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _one_spelling_per_field(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for snake, camel in CAMEL_CASE_ALIASES.items():
                if snake in data and camel in data:
                    raise ValueError(f"must not contain both {snake} and {camel}; send one spelling")
        return data


class AgentCreate(_AgentBody):
    """``POST /agent``. Only ``agent_name`` is required."""

    agent_name: AgentName
    prompt: Prompt = ""
    voice_id: VoiceId | None = Field(None, description="Omit or null for the default voice.")
    language: Language | None = Field(None, description="Omit or null to use the voice's language.")
    agent_type: AgentType = "outbound"
    intro_message: IntroMessage = None
    voicemail_detection_enabled: Flag = False
    voicemail_message: Message = None
    enable_recording: Flag = False
    end_call_enabled: Flag = False
    end_call_message: Message = None
    end_call_instructions: Instructions = None
    transfer_enabled: Flag = _camel("transfer_enabled", False)
    transfer_number: TransferNumber = _camel("transfer_number")
    transfer_message: Message = _camel("transfer_message")
    transfer_instructions: Instructions = None
    max_call_duration_secs: CallDuration = Field(
        rules.CALL_DURATION_DEFAULT_SECS, description="null means no cap."
    )
    variables: Variables = Field(default_factory=list)
    llm: LlmSettings | None = None
    stt: SttSettings | None = None
    script: AgentScriptConfig | None = Field(
        None, description="A scripted brain (replies, keyword rules, fallback) instead of a model."
    )


# Fields a PUT may not set to null: omitting them leaves them unchanged.
_NOT_NULLABLE = (
    "agent_name",
    "prompt",
    "agent_type",
    "voicemail_detection_enabled",
    "enable_recording",
    "end_call_enabled",
    "transfer_enabled",
    "variables",
)


class AgentUpdate(_AgentBody):
    """``PUT /agent/{id}``: a partial update. Fields left out keep their value; at least one is needed.

    ``null`` (or ``""`` for text) clears an optional field; ``null`` for ``voice_id`` selects the
    default voice and for ``language`` goes back to the voice's language. ``llm`` and ``stt`` are
    replaced as a whole.
    """

    agent_name: AgentName | None = None
    prompt: Prompt | None = None
    voice_id: VoiceId | None = None
    language: Language | None = None
    agent_type: AgentType | None = None
    intro_message: IntroMessage = None
    voicemail_detection_enabled: Flag | None = None
    voicemail_message: Message = None
    enable_recording: Flag | None = None
    end_call_enabled: Flag | None = None
    end_call_message: Message = None
    end_call_instructions: Instructions = None
    transfer_enabled: Flag | None = _camel("transfer_enabled")
    transfer_number: TransferNumber = _camel("transfer_number")
    transfer_message: Message = _camel("transfer_message")
    transfer_instructions: Instructions = None
    max_call_duration_secs: CallDuration = None
    variables: Variables | None = None
    llm: LlmSettings | None = None
    stt: SttSettings | None = None
    script: AgentScriptConfig | None = None

    @field_validator(*_NOT_NULLABLE, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null; leave the field out to keep its current value")
        return value

    @model_validator(mode="after")
    def _at_least_one_field(self) -> AgentUpdate:
        if not self.model_fields_set:
            raise ValueError("must contain at least one agent field to change, like prompt or voice_id")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent, by their snake_case names, as JSON-ready values."""
        return self.model_dump(mode="json", exclude_unset=True)


class AgentPublic(BaseModel):
    """An agent as the API returns it: snake_case fields plus Vocobase's camelCase transfer trio."""

    id: str
    agent_name: str
    agent_type: str = "outbound"
    status: str = rules.AGENT_STATUS_ACTIVE
    prompt: str = ""
    voice_id: str | None = None
    language: str | None = None
    intro_message: str | None = None
    voicemail_detection_enabled: bool = False
    voicemail_message: str | None = None
    enable_recording: bool = False
    end_call_enabled: bool = False
    end_call_message: str | None = None
    end_call_instructions: str | None = None
    transfer_enabled: bool = False
    transfer_number: str | None = None
    transfer_message: str | None = None
    transfer_instructions: str | None = None
    max_call_duration_secs: int | None = rules.CALL_DURATION_DEFAULT_SECS
    variables: list[str] = Field(default_factory=list)
    llm: dict[str, Any] | None = None
    stt: dict[str, Any] | None = None
    script: dict[str, Any] | None = None
    created_at: str = Field(description="ISO-8601, UTC")
    updated_at: str = Field(description="ISO-8601, UTC")

    @computed_field(alias="transferEnabled")  # type: ignore[prop-decorator]
    @property
    def transfer_enabled_camel(self) -> bool:
        return self.transfer_enabled

    @computed_field(alias="transferNumber")  # type: ignore[prop-decorator]
    @property
    def transfer_number_camel(self) -> str | None:
        return self.transfer_number

    @computed_field(alias="transferMessage")  # type: ignore[prop-decorator]
    @property
    def transfer_message_camel(self) -> str | None:
        return self.transfer_message

    @classmethod
    def from_agent(cls, agent: Agent) -> AgentPublic:
        stored = {k: v for k, v in (agent.settings or {}).items() if k in _SETTINGS_FIELDS}
        return cls(
            **stored,
            id=agent.id,
            agent_name=agent.agent_name,
            status=agent.status,
            created_at=iso_utc(agent.created_at),
            updated_at=iso_utc(agent.updated_at),
        )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


_SETTINGS_FIELDS = frozenset(AgentPublic.model_fields) - {
    "id",
    "agent_name",
    "status",
    "created_at",
    "updated_at",
}


class VoicePublic(BaseModel):
    """One entry of ``GET /agent/voices``."""

    voice_id: str
    name: str
    language: str
    locale: str
    gender: str
    engine: str
    sample_rate: int
    description: str


def iso_utc(value: datetime) -> str:
    """Always the same shape, e.g. ``2026-11-24T06:10:00.000000Z`` (isoformat drops zero µs)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
