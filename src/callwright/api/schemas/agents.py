"""Agent bodies at the HTTP boundary: ``AgentCreate``, ``AgentUpdate``, ``AgentPublic``, ``VoicePublic``.

The three agent models are built from one field list, ``AGENT_FIELDS``: adding a field is one
entry there, one attribute of ``domain.agent_spec.AgentSpec`` and the code that uses it.

Every rule failure reads "<field> <rule>" once formatted by ``api.errors`` (validators raise
``ValueError("must …")``). Booleans and integers are strict: ``"true"`` or ``600.0`` are refused
rather than guessed at.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    Strict,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)

from callwright.api.schemas.text import FREE_TEXT_CHARS, LINE_CHARS, NAME_CHARS
from callwright.domain import agents as rules
from callwright.domain import extraction
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.errors import FeatureNotAvailable
from callwright.domain.functions import FUNCTIONS_PER_AGENT_MAX
from callwright.domain.phone import E164_RULE, is_e164
from callwright.store.models import Agent
from callwright.voice.catalog import find_voice, installed_voices
from callwright.voice.script_config import AgentScriptConfig


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
AgentTypeName = Literal["outbound", "inbound"]  # AgentType's values
TransferModeName = Literal["cold", "warm"]  # TransferMode's values
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


class ExtractionKey(BaseModel):
    """One value post-call extraction pulls from the transcript."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(max_length=extraction.KEY_NAME_MAX, pattern=extraction.KEY_NAME_PATTERN)]
    type: Literal["string", "number", "integer", "boolean", "array", "date", "datetime"] = "string"
    description: Annotated[str, _text(extraction.KEY_DESCRIPTION_MAX), FREE_TEXT_CHARS] | None = None


class ExtractionConfig(BaseModel):
    """Vocobase's post-call extraction schema: a prompt and typed keys (``null`` disables it)."""

    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[str, _text(extraction.PROMPT_MAX), FREE_TEXT_CHARS] | None = None
    keys: Annotated[list[ExtractionKey], Field(min_length=1, max_length=extraction.KEYS_MAX)]
    includeToolLogs: Flag = Field(  # Vocobase spells it in camelCase; stored and shown so
        False, validation_alias=AliasChoices("includeToolLogs", "include_tool_logs")
    )

    @field_validator("keys")
    @classmethod
    def _unique_names(cls, keys: list[ExtractionKey]) -> list[ExtractionKey]:
        seen: set[str] = set()
        for key in keys:
            if key.name in seen:
                raise ValueError(f"must name each key once; {key.name!r} appears twice")
            seen.add(key.name)
        return keys


# --- the field list ----------------------------------------------------------------------------
#
# Every agent field once: the three HTTP models below are built from this list. The defaults are
# ``AgentSpec``'s (``domain.agent_spec``), except for fields the spec does not hold yet.

_SPEC_DEFAULT: Any = object()  # sentinel: the field's default is AgentSpec's


@dataclass(frozen=True)
class AgentField:
    """One agent field of the Partner API.

    ``request`` is what a body may send (validated); ``public`` what a response carries.
    ``camel``: Vocobase's camelCase spelling, accepted as an alias and echoed in responses.
    ``clearable``: a PUT may send null (False: null is refused; leave the field out instead).
    ``unbuilt``: the feature the field needs, when it is not built yet: a body that asks for it
    (anything but null, false or the default) is refused with 400 FEATURE_NOT_AVAILABLE.
    """

    name: str
    request: Any
    public: Any
    default: Any = _SPEC_DEFAULT
    description: str | None = None
    camel: str | None = None
    clearable: bool = True
    required: bool = False
    unbuilt: str | None = None

    @property
    def public_default(self) -> Any:
        return _SPEC_DEFAULTS[self.name] if self.default is _SPEC_DEFAULT else self.default

    def asks_for_feature(self, value: Any) -> bool:
        """Whether ``value`` (validated, JSON-ready) asks for the unbuilt feature."""
        return self.unbuilt is not None and value not in (None, False) and value != self.public_default

    def field_info(self, default: Any) -> Any:
        """The pydantic ``Field`` of a request model: the camelCase alias, and what to tell a reader."""
        alias = AliasChoices(self.name, self.camel) if self.camel else None
        notes = [self.description] if self.description else []
        if self.camel:
            notes.append(f"Also accepted as `{self.camel}` (Vocobase casing).")
        if self.unbuilt:
            notes.append(
                f"Not available yet on this server ({self.unbuilt}): anything but null, false or "
                "the default is refused with 400 FEATURE_NOT_AVAILABLE."
            )
        return Field(default, validation_alias=alias, description=" ".join(notes) or None)


_SPEC_DEFAULTS = AgentSpec().stored()


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID, like 3c90c3cc-0d44-4b50-8888-8dd25736052a") from None


def _none_is_false(value: bool | None) -> bool:
    return bool(value)


# A switch for a feature not built yet: null means off, like false.
OffSwitch = Annotated[Flag | None, AfterValidator(_none_is_false)]
KbThreshold = Literal["low", "medium", "high"]


def _medium_when_null(value: str | None) -> str:
    return value or "medium"


KbThresholdLevel = Annotated[KbThreshold | None, AfterValidator(_medium_when_null)]
Uuid = Annotated[str, StringConstraints(max_length=64), AfterValidator(_uuid)]
def _volume_default(value: float | None) -> float:
    return 0.5 if value is None else value  # null: Vocobase's default


Volume = Annotated[Annotated[float, Field(ge=0, le=1)] | None, AfterValidator(_volume_default)]
FunctionIds = Annotated[list[Uuid], Field(max_length=FUNCTIONS_PER_AGENT_MAX)]


AGENT_FIELDS: tuple[AgentField, ...] = (
    AgentField(
        "agent_name", AgentName, str, required=True, clearable=False,
        description="1–50 characters, unique within the account.",
    ),
    AgentField("prompt", Prompt, str, clearable=False, description="May use `{{variable}}` placeholders."),
    AgentField("voice_id", VoiceId | None, str | None, description="Omit or null for the default voice."),
    AgentField(
        "language", Language | None, str | None, description="Omit or null to use the voice's language."
    ),
    AgentField("agent_type", AgentTypeName, str, clearable=False),
    AgentField(
        "project_id", Uuid | None, str | None,
        description="Omit or null for the account's default project.",
    ),
    AgentField("intro_message", IntroMessage, str | None, description="`null` or `\"\"` removes it."),
    AgentField("voicemail_detection_enabled", Flag, bool, clearable=False),
    AgentField("voicemail_message", Message, str | None),
    AgentField("enable_recording", Flag, bool, clearable=False),
    AgentField(
        "kb_threshold", KbThresholdLevel, str,
        description="How close a document passage must be to the caller's words to reach the model: "
        "`low` (looser, more passages), `medium` (the default; null means medium) or `high` (close matches only).",
    ),
    AgentField(
        "kb_include_summaries", OffSwitch, bool,
        description="Add each passage's document summary (its opening words) to what the model sees.",
    ),
    AgentField(
        "kb_result_format", _optional_text(rules.INSTRUCTIONS_MAX), str | None,
        description="Template of one retrieved passage as the model sees it: `{{content}}`, "
        "`{{document_name}}`, `{{score}}` and `{{summary}}` are filled in. null: `[name] content`.",
    ),
    AgentField(
        "kb_enable_llm_processing", OffSwitch, bool,
        description="Before each turn's reply, give the passages found and the caller's words to the "
        "operator's LLM, whose short answer goes to the model instead of the raw passages (one more "
        "LLM request on turns that find passages). Refused when the server has no LLM configured.",
    ),
    AgentField(
        "kb_llm_system_prompt", _optional_text(rules.PROMPT_MAX), str | None,
        description="System prompt of that processing request. null: a built-in prompt that asks for "
        "the facts that answer the caller, in a few sentences.",
    ),
    AgentField("end_call_enabled", Flag, bool, camel="endCallEnabled", clearable=False),
    AgentField("end_call_message", Message, str | None, camel="endCallMessage"),
    AgentField("end_call_instructions", Instructions, str | None),
    AgentField(
        "transfer_enabled", OffSwitch, bool, camel="transferEnabled",
        description="Let the agent hand calls to a human (`transfer_call`, `POST /calls/{id}/transfer`); "
        "needs `transfer_number` and a carrier that can transfer (Plivo, Vobiz, Twilio).",
    ),
    AgentField(
        "transfer_number", TransferNumber, str | None, camel="transferNumber",
        description="E.164 number the call is transferred to. Required when `transfer_enabled` is true.",
    ),
    AgentField(
        "transfer_message", Message, str | None, camel="transferMessage",
        description="Said just before the transfer; empty: \"Please hold while I transfer you.\"",
    ),
    AgentField(
        "transfer_instructions", Instructions, str | None,
        description="When the model should transfer (its tool's description and a prompt section).",
    ),
    AgentField(
        "transfer_mode", TransferModeName, str, clearable=False,
        description="`cold` (default): the carrier leaves the agent and dials the human. `warm`: the "
        "agent stays with the caller while the human is called and hears a short summary of the "
        "call, then both are bridged in a conference (Plivo, Vobiz, Twilio; a warm transfer on "
        "another carrier is refused with 409). See docs/transfer-and-dtmf.md.",
    ),
    AgentField("max_call_duration_secs", CallDuration, int | None, description="null means no cap."),
    AgentField(
        "background_audio_id", Uuid | None, str | None,
        description="Ambience looped under the agent's voice and through its silences: a platform "
        "asset or one of this account's READY uploads (`GET /agent/background-audio`); null: none.",
    ),
    AgentField(
        "background_audio_volume", Volume, float,
        description="0 to 1 (default 0.5; null sets the default): the bed's level under the voice.",
    ),
    AgentField("variables", Variables, list[str], clearable=False),
    AgentField(
        "extraction_config", ExtractionConfig | None, dict[str, Any] | None, None,
        description="Post-call extraction: `{prompt, keys[{name, type, description}], includeToolLogs}`; "
        "`null` disables it. Runs after the call with the operator's LLM (see docs/extraction.md).",
    ),
    AgentField("llm", LlmSettings | None, dict[str, Any] | None),
    AgentField("stt", SttSettings | None, dict[str, Any] | None),
    AgentField(
        "script", AgentScriptConfig | None, dict[str, Any] | None,
        description="A scripted brain (replies, keyword rules, fallback) instead of a model.",
    ),
    AgentField(
        "function_ids", FunctionIds, list[str], clearable=False,
        description="Ids of this account's custom functions (`/functions`) the agent's model may "
        f"call during a call; at most {FUNCTIONS_PER_AGENT_MAX}. `[]` detaches them all.",
    ),
    AgentField(
        "opt_out_enabled", Flag, bool, clearable=False,
        description="Offer the `opt_out` tool on every call (campaign calls always have it): when "
        "the callee asks not to be called again, their number joins the suppression list.",
    ),
    AgentField(
        "send_dtmf_enabled", Flag, bool, clearable=False,
        description="Offer the model the `send_dtmf` tool (press keys to get through a phone menu) "
        "on carriers that can send key presses during a call (Plivo, Vobiz); ignored on others, as "
        "docs/transfer-and-dtmf.md says.",
    ),
)
CAMEL_CASE_ALIASES = {f.name: f.camel for f in AGENT_FIELDS if f.camel}
UNBUILT_FIELDS = tuple(f for f in AGENT_FIELDS if f.unbuilt)


class AgentBody(BaseModel):
    """What create and update bodies share: one spelling per field, and the unbuilt-feature check."""

    model_config = ConfigDict(extra="forbid")

    # The camelCase spellings the client used, by field name (to name fields as sent).
    _spelled: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _one_spelling_per_field(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        spelled = {}
        if isinstance(data, dict):
            for snake, camel in CAMEL_CASE_ALIASES.items():
                if snake in data and camel in data:
                    raise ValueError(f"must not contain both {snake} and {camel}; send one spelling")
                if camel in data:
                    spelled[snake] = camel
        body = handler(data)
        body._spelled = spelled
        return body

    def sent(self) -> dict[str, Any]:
        """Only the fields the client sent, by their snake_case names, as JSON-ready values.

        Raises ``FeatureNotAvailable`` when one of them asks for a feature not built yet."""
        sent = self.model_dump(mode="json", exclude_unset=True)
        asked = [f for f in UNBUILT_FIELDS if f.name in sent and f.asks_for_feature(sent[f.name])]
        if asked:
            features = list(dict.fromkeys(f.unbuilt or "" for f in asked))
            names = [self._spelled.get(f.name, f.name) for f in asked]
            raise FeatureNotAvailable(
                f"{_and(features)} {'is' if len(features) == 1 else 'are'} not available yet on "
                f"this server; remove {_and(names)} (or send {'it' if len(names) == 1 else 'them'} "
                "as null or false)",
                code="feature_not_available",
                details=[
                    {"field": name, "feature": f.unbuilt} for name, f in zip(names, asked, strict=True)
                ],
            )
        return sent


class AgentCreateBody(AgentBody):
    def fields(self) -> dict[str, Any]:
        """The fields sent (the rest take the spec's defaults); see ``AgentBody.sent``."""
        return self.sent()


class AgentUpdateBody(AgentBody):
    @model_validator(mode="after")
    def _at_least_one_field(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("must contain at least one agent field to change, like prompt or voice_id")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent; see ``AgentBody.sent``."""
        return self.sent()


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null; leave the field out to keep its current value")
    return value


class AgentPublicBase(BaseModel):
    """An agent as the API returns it."""

    @classmethod
    def from_agent(cls, agent: Agent, *, document_count: int = 0) -> Self:
        spec = AgentSpec.parse(
            agent.settings or {}, agent_name=agent.agent_name, status=agent.status, project_id=agent.project_id
        )
        values = {f.name: f.public_default for f in AGENT_FIELDS} | spec.stored()
        values |= {f.camel: values[f.name] for f in AGENT_FIELDS if f.camel}
        return cls.model_validate(
            values
            | {
                "id": agent.id,
                "document_count": document_count,
                "created_at": iso_utc(agent.created_at),
                "updated_at": iso_utc(agent.updated_at),
            }
        )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _create_model() -> type[AgentCreateBody]:
    fields = {
        f.name: (f.request, f.field_info(... if f.required else f.public_default)) for f in AGENT_FIELDS
    }
    return create_model(  # type: ignore[call-overload]
        "AgentCreate",
        __base__=AgentCreateBody,
        __doc__="``POST /agent``. Only ``agent_name`` is required; the rest take their defaults.",
        __module__=__name__,
        **fields,
    )


def _update_model() -> type[AgentUpdateBody]:
    # A clearable field's request type takes null already (and may give it a meaning, e.g. off).
    fields = {
        f.name: (f.request if f.clearable else f.request | None, f.field_info(None)) for f in AGENT_FIELDS
    }
    not_nullable = [f.name for f in AGENT_FIELDS if not f.clearable]
    return create_model(  # type: ignore[call-overload]
        "AgentUpdate",
        __base__=AgentUpdateBody,
        __doc__=(
            "``PUT /agent/{id}``: a partial update. Fields left out keep their value; at least one "
            "is needed. ``null`` (or ``\"\"`` for text) clears an optional field; ``null`` for "
            "``voice_id`` selects the default voice and for ``language`` goes back to the voice's "
            "language. ``llm`` and ``stt`` are replaced as a whole."
        ),
        __module__=__name__,
        __validators__={"_not_null": field_validator(*not_nullable, mode="before")(_refuse_null)},
        **fields,
    )


def _public_model() -> type[AgentPublicBase]:
    fields: dict[str, Any] = {"id": (str, ...)}
    for f in AGENT_FIELDS:
        fields[f.name] = (f.public, f.public_default)
        if f.name == "agent_type":
            fields["status"] = (str, rules.AGENT_STATUS_ACTIVE)
    fields["document_count"] = (
        int, Field(0, description="Documents the agent knows: linked directly or through a document folder."),
    )
    fields["created_at"] = (str, Field(description="ISO-8601, UTC"))
    fields["updated_at"] = (str, Field(description="ISO-8601, UTC"))
    for f in AGENT_FIELDS:
        if f.camel:  # Vocobase's responses carry these in camelCase: the same values again
            fields[f.camel] = (f.public, Field(f.public_default, description=f"Same as `{f.name}`."))
    return create_model(
        "AgentPublic",
        __base__=AgentPublicBase,
        __doc__="An agent as the API returns it: snake_case fields plus Vocobase's camelCase ones.",
        __module__=__name__,
        **fields,
    )


if TYPE_CHECKING:

    class AgentCreate(AgentCreateBody): ...

    class AgentUpdate(AgentUpdateBody): ...

    class AgentPublic(AgentPublicBase): ...

else:
    AgentCreate = _create_model()
    AgentUpdate = _update_model()
    AgentPublic = _public_model()


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" and {words[-1]}"


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
