"""``AgentSpec``: what an agent is, as one frozen value with all its defaults.

An agent is stored as a row (``agent_name``, ``status``) plus its settings as JSON, and every call
keeps a snapshot of those settings (``Call.agent``). Both are parsed here, and only here, into an
``AgentSpec``; services and the voice runtime read its attributes, never the stored keys. The
stored keys are the Partner API's snake_case field names, so a validated request body, a stored
settings dict and a call's snapshot all parse the same way.

Adding a field: one entry in the HTTP field list (``api.schemas.agents``), one attribute here
(with its default), and the code that uses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from typing import Any

from callwright.domain.agents import AGENT_STATUS_ACTIVE, CALL_DURATION_DEFAULT_SECS
from callwright.domain.extraction import ExtractionSpec
from callwright.domain.transfers import TransferMode

# What a scripted agent answers when neither a rule nor an ordered reply applies.
DEFAULT_SCRIPT_FALLBACK = "Sorry, I can't help with that on this call."


class AgentType(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


@dataclass(frozen=True, slots=True)
class LlmSpec:
    """The agent's own LLM choice; anything left None takes the operator's default."""

    provider: str | None = None
    model: str | None = None
    temperature: float | None = None

    @classmethod
    def parse(cls, stored: Mapping[str, Any]) -> LlmSpec:
        return cls(stored.get("provider"), stored.get("model"), stored.get("temperature"))


@dataclass(frozen=True, slots=True)
class SttSpec:
    """The agent's speech-to-text choice; ``language`` None means the agent's language."""

    provider: str | None = None
    language: str | None = None

    @classmethod
    def parse(cls, stored: Mapping[str, Any]) -> SttSpec:
        return cls(stored.get("provider"), stored.get("language"))


@dataclass(frozen=True, slots=True)
class ScriptReply:
    text: str
    end_call: bool = False


class JsonArguments(Mapping[str, Any]):
    """A JSON object that is read-only and hashable (specs are frozen values)."""

    __slots__ = ("_items", "_key")

    def __init__(self, items: Mapping[str, Any]) -> None:
        self._items = dict(items)
        self._key = json.dumps(self._items, sort_keys=True)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __repr__(self) -> str:
        return f"JsonArguments({self._items!r})"


@dataclass(frozen=True, slots=True)
class ScriptRule:
    """Answer ``reply`` when the caller says any of ``keywords`` (whole words, any case)."""

    keywords: tuple[str, ...]
    reply: str
    end_call: bool = False
    opt_out: bool = False  # then run the opt_out tool (the caller asked not to be called again)
    transfer: bool = False  # then run the transfer_call tool (hand the call to a human)
    function: str | None = None  # then call the agent's custom function of this name
    arguments: Mapping[str, Any] = field(default_factory=lambda: JsonArguments({}))  # with these


@dataclass(frozen=True, slots=True)
class ScriptSpec:
    """A scripted brain: the n-th caller turn gets the n-th reply; rules win over the order."""

    replies: tuple[ScriptReply, ...] = ()
    rules: tuple[ScriptRule, ...] = ()
    fallback: str = DEFAULT_SCRIPT_FALLBACK

    @classmethod
    def parse(cls, stored: Mapping[str, Any]) -> ScriptSpec:
        return cls(
            replies=tuple(
                ScriptReply(reply["text"], bool(reply.get("end_call"))) for reply in stored.get("replies", ())
            ),
            rules=tuple(
                ScriptRule(
                    tuple(rule["keywords"]), rule["reply"], bool(rule.get("end_call")),
                    bool(rule.get("opt_out")), bool(rule.get("transfer")), rule.get("function"),
                    JsonArguments(rule.get("arguments") or {}),
                )
                for rule in stored.get("rules", ())
            ),
            fallback=stored.get("fallback") or DEFAULT_SCRIPT_FALLBACK,
        )


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """One agent's configuration. Texts are templates: ``{{var}}`` is filled per call."""

    agent_name: str = ""
    status: str = AGENT_STATUS_ACTIVE
    agent_type: AgentType = AgentType.OUTBOUND
    project_id: str | None = None
    prompt: str = ""
    voice_id: str | None = None  # None only before the service resolves the default voice
    language: str | None = None
    language_explicit: bool = False  # set by the partner (kept on voice changes), not derived
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
    transfer_mode: TransferMode = TransferMode.COLD  # warm: brief the human first (Callwright's)
    max_call_duration_secs: int | None = CALL_DURATION_DEFAULT_SECS  # None: no cap
    variables: tuple[str, ...] = ()
    llm: LlmSpec | None = None
    stt: SttSpec | None = None
    script: ScriptSpec | None = None
    function_ids: tuple[str, ...] = ()  # custom functions the model may call (``/functions``)
    opt_out_enabled: bool = False  # offer the opt_out tool on every call, not only campaign calls
    extraction_config: ExtractionSpec | None = None  # post-call extraction (``domain.extraction``)
    send_dtmf_enabled: bool = False  # offer the send_dtmf tool where the carrier can press keys
    # Knowledge base (``domain.knowledge``): how close a passage must be, how passages are shown.
    kb_threshold: str = "medium"  # low | medium | high
    kb_include_summaries: bool = False
    kb_result_format: str | None = None
    # Passages condensed by the operator's LLM before the turn's model sees them (``kb_retrieval``).
    kb_enable_llm_processing: bool = False
    kb_llm_system_prompt: str | None = None  # None: ``knowledge.DEFAULT_LLM_SYSTEM_PROMPT``
    background_audio_id: str | None = None  # looped under the agent's voice (``voice.background``)
    background_audio_volume: float = 0.5  # 0..1, Vocobase's default
    dictionary_ids: tuple[str, ...] = ()  # speech-recognition dictionaries (``/agent/{id}/dictionaries``)

    @classmethod
    def parse(
        cls,
        stored: Mapping[str, Any],
        *,
        agent_name: str | None = None,
        status: str | None = None,
        project_id: str | None = None,
    ) -> AgentSpec:
        """The spec from stored settings, a call's snapshot, or a validated request body (keys
        are the API's snake_case names; a key left out takes its default, unknown keys are
        ignored). ``agent_name``, ``status`` and ``project_id`` come from the agent's row when
        given."""
        values = {name: stored[name] for name in _FIELD_NAMES if name in stored}
        for name, convert in _CONVERTERS.items():
            if values.get(name) is not None:
                values[name] = convert(values[name])
        if agent_name is not None:
            values["agent_name"] = agent_name
        if status is not None:
            values["status"] = status
        if project_id is not None:
            values["project_id"] = project_id
        return cls(**values)

    def updated(self, changes: Mapping[str, Any]) -> AgentSpec:
        """This spec with ``changes`` (validated snake_case fields) applied."""
        return AgentSpec.parse({**self.stored(), **changes})

    def stored(self) -> dict[str, Any]:
        """Every field as JSON-ready values, under the names ``parse`` reads."""
        return {name: _jsonable(getattr(self, name)) for name in _FIELD_NAMES}

    def settings(self) -> dict[str, Any]:
        """What ``Agent.settings`` keeps: every field but the row's own columns."""
        stored = self.stored()
        for column in _ROW_COLUMNS:
            del stored[column]
        return stored

    def snapshot(self) -> dict[str, Any]:
        """What a call keeps of its agent (``Call.agent``): the settings and the agent's name."""
        snapshot = self.stored()
        del snapshot["status"]
        return snapshot


_FIELD_NAMES = tuple(f.name for f in fields(AgentSpec))
_ROW_COLUMNS = ("agent_name", "status", "project_id")
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "agent_type": AgentType,
    "transfer_mode": TransferMode,
    "variables": tuple,
    "function_ids": tuple,
    "dictionary_ids": tuple,
    "background_audio_volume": float,
    "llm": LlmSpec.parse,
    "stt": SttSpec.parse,
    "script": ScriptSpec.parse,
    "extraction_config": ExtractionSpec.parse,
}


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:  # most fields: as they are (an enum is a str subclass, not a str)
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, ExtractionSpec):  # Vocobase's shape, ``includeToolLogs`` in camelCase
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    return value
