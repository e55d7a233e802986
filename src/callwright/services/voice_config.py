"""The operator's voice settings (``CALLWRIGHT_LLM_*``, silence and duration lines) as the voice
layer takes them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callwright.settings import Settings

if TYPE_CHECKING:
    from callwright.voice.call_rules import CallRules
    from callwright.voice.engines import LlmDefaults


def llm_defaults(settings: Settings) -> LlmDefaults:
    """The default LLM endpoint when the operator configured one (a base URL or a model)."""
    from callwright.voice.engines import LlmDefaults
    from callwright.voice.engines.llm_openai import ConnectOptions, LlmConfig

    endpoint = None
    if settings.llm_model or settings.llm_base_url:
        endpoint = LlmConfig(
            provider=settings.llm_provider.strip().lower(),
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            model=settings.llm_model or "",
            temperature=settings.llm_temperature,
        )
    return LlmDefaults(
        llm=endpoint,
        fallback_line=settings.llm_fallback_line,
        connect=ConnectOptions(
            timeout_secs=settings.llm_timeout_secs, max_retries=settings.llm_max_retries
        ),
    )


def call_rules(settings: Settings) -> CallRules:
    from callwright.voice.call_rules import CallRules

    return CallRules(
        silence_timeout_secs=settings.silence_timeout_secs,
        silence_prompt=settings.silence_prompt,
        duration_warning_message=settings.duration_warning_message,
        closing_line=settings.closing_line,
    )
