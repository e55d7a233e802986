"""OpenAI-compatible chat completions, streamed: OpenAI, Groq, Together, Ollama, vLLM, llama.cpp.

All of them speak ``POST {base_url}/chat/completions`` with ``stream: true`` and Server-Sent
Events, so one engine serves them: Pipecat's ``OpenAILLMService`` pointed at the provider's base
URL. It consumes ``LLMContextFrame`` and emits ``LLMFullResponseStartFrame``, ``LLMTextFrame``
pieces as they stream in, and ``LLMFullResponseEndFrame``; a failed or timed-out request becomes
an ``ErrorFrame`` pushed upstream, between the start and end frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipecat.services.openai.llm import OpenAILLMService

# Where each named provider serves its OpenAI-compatible API when the operator gives no base URL.
KNOWN_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "groq": "https://api.groq.com/openai/v1",
    "together": "https://api.together.xyz/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "vllm": "http://127.0.0.1:8000/v1",
    "llama.cpp": "http://127.0.0.1:8080/v1",
}
# Local servers accept any key; the OpenAI client refuses to start without one.
KEYLESS_PROVIDERS = frozenset({"ollama", "vllm", "llama.cpp"})
KEYLESS_PLACEHOLDER = "no-key"
OPENAI_COMPATIBLE_PROVIDERS = frozenset(KNOWN_BASE_URLS) | {"openai-compatible"}


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """How long one request may take and how often a failed one is retried.

    ``timeout_secs`` bounds the connect and every read (the gap between two streamed chunks),
    not the whole reply. Retries are the OpenAI client's own: on connection errors, 408, 409,
    429 and 5xx, with backoff; each one adds to the caller's silence, so keep them few.
    """

    timeout_secs: float = 10.0
    max_retries: int = 1


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """One chat-completions endpoint and how to ask it. The key never appears in ``repr``."""

    provider: str
    base_url: str | None
    api_key: str | None = field(repr=False)
    model: str
    temperature: float | None = None


class OpenAICompatibleLLM(OpenAILLMService):
    """Pipecat's OpenAI service, named for what it talks to: any OpenAI-compatible server."""

    def __init__(
        self,
        *,
        config: LlmConfig,
        connect: ConnectOptions,
        system_instruction: str | None = None,
        **kwargs: object,
    ) -> None:
        settings = OpenAILLMService.Settings(
            model=config.model, system_instruction=system_instruction
        )
        if config.temperature is not None:
            settings.temperature = config.temperature
        super().__init__(
            api_key=config.api_key or KEYLESS_PLACEHOLDER,
            base_url=config.base_url or KNOWN_BASE_URLS.get(config.provider),
            settings=settings,
            **kwargs,  # type: ignore[arg-type]
        )
        # Pipecat builds the client with the SDK's defaults (600 s, 2 retries); a caller on the
        # line cannot wait that long.
        self._client = self._client.with_options(
            timeout=connect.timeout_secs, max_retries=connect.max_retries
        )
        self.provider = config.provider

    async def cleanup(self) -> None:
        await super().cleanup()
        # Pipecat leaves the client's keep-alive pool open; one service per call would leak it.
        await self._client.close()


def create_openai_llm(
    config: LlmConfig,
    *,
    connect: ConnectOptions | None = None,
    system_instruction: str | None = None,
) -> OpenAICompatibleLLM:
    """A streaming chat-completions service for one call; ``system_instruction`` is the agent's
    prompt, sent as the first (system) message of every request."""
    return OpenAICompatibleLLM(
        config=config, connect=connect or ConnectOptions(), system_instruction=system_instruction
    )
