"""Which LLM engine answers an agent's calls, chosen by its ``llm.provider`` name.

Every engine is a Pipecat LLM processor: ``LLMContextFrame`` in; ``LLMFullResponseStartFrame``,
``LLMTextFrame`` pieces and ``LLMFullResponseEndFrame`` out. The choice, in order:

1. the agent's own ``llm.provider``;
2. ``scripted`` when the agent declares a script;
3. the operator's default endpoint;
4. otherwise ``scripted`` with an empty script: the agent says its intro, then the operator's
   fallback line to whatever the caller says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pipecat.services.llm_service import LLMService

from callwright.domain.agent_spec import LlmSpec, ScriptSpec
from callwright.voice.engines.llm_openai import (
    KEYLESS_PROVIDERS,
    KNOWN_BASE_URLS,
    OPENAI_COMPATIBLE_PROVIDERS,
    ConnectOptions,
    LlmConfig,
    create_openai_llm,
)
from callwright.voice.engines.llm_scripted import (
    DEFAULT_FALLBACK,
    SCRIPTED,
    ScriptedLLM,
)


class AgentLlmChoice(Protocol):
    """The agent's ``llm`` settings (``LlmSpec``, and ``api.schemas.agents.LlmSettings``)."""

    @property
    def provider(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def temperature(self) -> float | None: ...


# An agent's own ``llm`` choice, as its spec holds it.
LlmChoice = LlmSpec


@dataclass(frozen=True, slots=True)
class LlmDefaults:
    """The operator's side: one default endpoint (if any), the fallback line, connect limits."""

    llm: LlmConfig | None = None
    fallback_line: str = DEFAULT_FALLBACK
    connect: ConnectOptions = field(default_factory=ConnectOptions)


class LlmUnavailable(Exception):
    """The agent's LLM provider cannot be reached from this node as configured."""

    code = "llm_unavailable"

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"The LLM provider {provider!r} {reason}.")
        self.provider = provider


class EngineBuilder(Protocol):
    def __call__(
        self,
        *,
        provider: str,
        choice: AgentLlmChoice | None,
        defaults: LlmDefaults,
        script: ScriptSpec | None,
        prompt: str | None,
    ) -> LLMService[Any]:
        """A new LLM processor for one call."""


def _scripted(
    *,
    provider: str,
    choice: AgentLlmChoice | None,
    defaults: LlmDefaults,
    script: ScriptSpec | None,
    prompt: str | None,
) -> LLMService[Any]:
    return ScriptedLLM(script or ScriptSpec(fallback=defaults.fallback_line))


def _openai_compatible(
    *,
    provider: str,
    choice: AgentLlmChoice | None,
    defaults: LlmDefaults,
    script: ScriptSpec | None,
    prompt: str | None,
) -> LLMService[Any]:
    endpoint = defaults.llm
    # "openai-compatible" on an agent means "the operator's endpoint, whatever it is".
    if endpoint is not None and provider not in (endpoint.provider, "openai-compatible"):
        endpoint = None
    target = endpoint.provider if endpoint else provider
    model = (choice.model if choice else None) or (endpoint.model if endpoint else None)
    base_url = (endpoint.base_url if endpoint else None) or KNOWN_BASE_URLS.get(target)
    api_key = endpoint.api_key if endpoint else None
    if endpoint is None and provider not in KEYLESS_PROVIDERS:
        raise LlmUnavailable(provider, "is not configured on this server (no endpoint or API key)")
    if not base_url:
        raise LlmUnavailable(provider, "has no base URL configured")
    if not api_key and target not in KEYLESS_PROVIDERS:
        raise LlmUnavailable(provider, "needs an API key, and none is configured")
    if not model:
        raise LlmUnavailable(provider, "needs a model name: set llm.model on the agent")
    temperature = choice.temperature if choice and choice.temperature is not None else None
    if temperature is None and endpoint is not None:
        temperature = endpoint.temperature
    config = LlmConfig(
        provider=target,
        base_url=base_url,
        api_key=api_key,
        model=model,
        temperature=temperature,
    )
    return create_openai_llm(config, connect=defaults.connect, system_instruction=prompt or None)


LLM_ENGINES: dict[str, EngineBuilder] = {
    SCRIPTED: _scripted,
    **{name: _openai_compatible for name in sorted(OPENAI_COMPATIBLE_PROVIDERS)},
}


def llm_engine_for(
    agent_llm: AgentLlmChoice | None,
    defaults: LlmDefaults,
    *,
    script: ScriptSpec | None = None,
    prompt: str | None = None,
) -> LLMService[Any]:
    """A new LLM processor for one call; raises ``LlmUnavailable`` if the choice can't be served.

    ``prompt`` is the agent's rendered prompt: a model gets it as its system instruction; a
    script has no use for it.
    """
    provider = agent_llm.provider if agent_llm else None
    if provider is None:
        if script is not None:
            provider = SCRIPTED
        elif defaults.llm is not None:
            provider = defaults.llm.provider
        else:
            provider = SCRIPTED
    provider = provider.strip().lower()
    build = LLM_ENGINES.get(provider)
    if build is None:
        known = ", ".join(sorted(LLM_ENGINES))
        raise LlmUnavailable(provider, f"is not one this server knows; use one of: {known}")
    return build(
        provider=provider, choice=agent_llm, defaults=defaults, script=script, prompt=prompt
    )
