"""The LLM engines: OpenAI-compatible streaming against a local server, the scripted engine, and
the registry that picks one by the agent's ``llm.provider``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from loguru import logger
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    LLMContextFrame,
    LLMServiceMetadataFrame,
    LLMTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import run_test
from pydantic import ValidationError

from callwright.voice.engines import LLM_ENGINES, LlmDefaults, LlmUnavailable, llm_engine_for
from callwright.voice.engines.llm_openai import (
    ConnectOptions,
    LlmConfig,
    OpenAICompatibleLLM,
    create_openai_llm,
)
from callwright.voice.engines.llm_scripted import (
    AgentScriptConfig,
    Reply,
    Rule,
    Script,
    ScriptedAnswer,
    ScriptedLLM,
    stream_pieces,
)
from tests.voice.conftest import LogCapture
from tests.voice.openai_server import FakeOpenAIServer, serving_in_thread

API_KEY = "sk-test-4242-do-not-log"
SYSTEM_PROMPT = "You are Joe from Acme. Answer in one sentence."
USER_TEXT = "What are your opening hours?"
# A hang guard, not a latency assertion: a stuck engine fails the test instead of the suite.
GUARD_SECS = 10
QUICK = ConnectOptions(timeout_secs=5, max_retries=0)


@pytest.fixture(scope="module")
def openai_server() -> Iterator[FakeOpenAIServer]:
    with serving_in_thread(FakeOpenAIServer()) as server:
        yield server


@pytest.fixture
def server(openai_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    openai_server.requests.clear()
    openai_server.mode = "stream"
    yield openai_server
    openai_server.mode = "stream"


@pytest.fixture
def pipecat_log() -> Iterator[list[str]]:
    """Everything Pipecat logs during the test, at every level."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="TRACE")
    yield lines
    logger.remove(sink)


class FirstTextClock(FrameProcessor):
    """Notes when the first LLMTextFrame passes."""

    def __init__(self) -> None:
        super().__init__()
        self.first_text_at: float | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMTextFrame) and self.first_text_at is None:
            self.first_text_at = time.monotonic()
        await self.push_frame(frame, direction)


def conversation(*user_turns: str) -> LLMContext:
    messages: list[dict[str, str]] = []
    for i, text in enumerate(user_turns):
        if i:
            messages.append({"role": "assistant", "content": "(earlier answer)"})
        messages.append({"role": "user", "content": text})
    return LLMContext(messages=messages)  # type: ignore[arg-type]


def llm_config(server: FakeOpenAIServer, **changes: object) -> LlmConfig:
    values: dict[str, object] = {
        "provider": "openai-compatible",
        "base_url": server.base_url,
        "api_key": API_KEY,
        "model": "local-test-model",
        "temperature": 0.3,
    }
    values.update(changes)
    return LlmConfig(**values)  # type: ignore[arg-type]


async def run_llm(
    processor: FrameProcessor, *contexts: LLMContext
) -> tuple[list[Frame], list[Frame]]:
    frames = [LLMContextFrame(context=c) for c in contexts]
    return await asyncio.wait_for(run_test(processor, frames_to_send=frames), GUARD_SECS)


def shape(frames: list[Frame]) -> list[str]:
    """Reply frame types in order, with runs of LLMTextFrame collapsed to one entry (the service
    metadata frame every LLM service sends at start is left out)."""
    names: list[str] = []
    for frame in frames:
        if isinstance(frame, LLMServiceMetadataFrame):
            continue
        name = type(frame).__name__
        if not (name == "LLMTextFrame" and names and names[-1] == name):
            names.append(name)
    return names


def texts(frames: list[Frame]) -> list[str]:
    return [f.text for f in frames if isinstance(f, LLMTextFrame)]


# --- OpenAI-compatible engine ------------------------------------------------------------------


async def test_openai_engine_streams_the_reply_from_a_compatible_server(
    server: FakeOpenAIServer, pipecat_log: list[str]
) -> None:
    llm = create_openai_llm(
        llm_config(server),
        connect=ConnectOptions(timeout_secs=5, max_retries=0),
        system_instruction=SYSTEM_PROMPT,
    )
    clock = FirstTextClock()

    down, up = await run_llm(Pipeline([llm, clock]), conversation(USER_TEXT))

    assert len(server.requests) == 1
    request = server.requests[0]
    assert request.authorization == f"Bearer {API_KEY}"
    assert request.body["model"] == "local-test-model"
    assert request.body["temperature"] == 0.3
    assert request.body["stream"] is True
    assert [(m["role"], m["content"]) for m in request.body["messages"]] == [
        ("system", SYSTEM_PROMPT),
        ("user", USER_TEXT),
    ]
    assert texts(down) == server.pieces
    assert shape(down) == ["LLMFullResponseStartFrame", "LLMTextFrame", "LLMFullResponseEndFrame"]
    assert not [f for f in up if isinstance(f, ErrorFrame)]

    assert clock.first_text_at is not None
    ttft_ms = (clock.first_text_at - request.received_at) * 1000
    print(f"\nOpenAI-compatible engine: request received → first LLMTextFrame {ttft_ms:.1f} ms")
    assert all(API_KEY not in line for line in pipecat_log)


async def test_agent_settings_choose_the_model_and_temperature(server: FakeOpenAIServer) -> None:
    agent = AgentLlm(provider="openai-compatible", model="agent-model", temperature=1.1)
    defaults = LlmDefaults(llm=llm_config(server), connect=QUICK)

    engine = llm_engine_for(agent, defaults, prompt=SYSTEM_PROMPT)
    await run_llm(engine, conversation(USER_TEXT))

    body = server.requests[0].body
    assert body["model"] == "agent-model"
    assert body["temperature"] == 1.1
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}


async def test_a_server_error_becomes_an_error_frame(
    server: FakeOpenAIServer, voice_logs: LogCapture
) -> None:
    voice_logs.allowed.add("Error during completion: Error code: 500")
    server.mode = "error"
    llm = create_openai_llm(llm_config(server), connect=QUICK)

    down, up = await run_llm(llm, conversation(USER_TEXT))

    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and "500" in errors[0].error
    assert texts(down) == []
    assert shape(down) == ["LLMFullResponseStartFrame", "LLMFullResponseEndFrame"]
    assert len(server.requests) == 1  # max_retries=0 means one request


async def test_retries_follow_the_connect_options(
    server: FakeOpenAIServer, voice_logs: LogCapture
) -> None:
    voice_logs.allowed.add("Error during completion: Error code: 500")
    server.mode = "error"
    llm = create_openai_llm(llm_config(server), connect=ConnectOptions(5, max_retries=1))

    _, up = await run_llm(llm, conversation(USER_TEXT))

    assert len(server.requests) == 2
    assert [f for f in up if isinstance(f, ErrorFrame)]


async def test_a_server_that_does_not_answer_times_out_as_an_error_frame(
    server: FakeOpenAIServer, voice_logs: LogCapture
) -> None:
    voice_logs.allowed.add("Error during completion: Request timed out")
    server.mode = "hang"
    llm = create_openai_llm(llm_config(server), connect=ConnectOptions(0.2, max_retries=0))

    started = time.monotonic()
    down, up = await run_llm(llm, conversation(USER_TEXT))
    waited = time.monotonic() - started

    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and "timed out" in errors[0].error.lower()
    assert texts(down) == []
    print(f"\nOpenAI-compatible engine: a silent server became an ErrorFrame after {waited:.2f} s")


def test_the_api_key_stays_out_of_reprs() -> None:
    config = LlmConfig(provider="openai", base_url=None, api_key=API_KEY, model="gpt-4.1-mini")
    llm = create_openai_llm(config)
    assert API_KEY not in repr(config)
    assert API_KEY not in repr(llm) and API_KEY not in str(llm)


# --- Scripted engine -----------------------------------------------------------------------------

BOOKING_SCRIPT = AgentScriptConfig(
    replies=[
        Reply(text="Sure. What day would you like to come in?"),
        Reply(text="And at what time?"),
        Reply(text="Booked. See you then, goodbye!", end_call=True),
    ],
    rules=[
        Rule(
            keywords=["no", "stop calling"],
            reply="Understood, I won't call again. Goodbye.",
            end_call=True,
        ),
        Rule(keywords=["price", "cost"], reply="A visit costs forty dollars."),
    ],
    fallback="Sorry, I can only help with bookings.",
)


def test_ordered_replies_answer_the_nth_turn() -> None:
    script = Script(BOOKING_SCRIPT)
    assert script.answer("I'd like an appointment", turn=1) == ScriptedAnswer(
        "Sure. What day would you like to come in?", False, "reply"
    )
    assert script.answer("Tuesday", turn=2).text == "And at what time?"
    assert script.answer("Three pm", turn=3) == ScriptedAnswer(
        "Booked. See you then, goodbye!", True, "reply"
    )


def test_keyword_rules_beat_ordered_replies() -> None:
    script = Script(BOOKING_SCRIPT)
    assert script.answer("What does it COST?", turn=1) == ScriptedAnswer(
        "A visit costs forty dollars.", False, "rule"
    )
    assert script.answer("Please stop   calling me", turn=2).source == "rule"
    # The first matching rule answers, in the order the script lists them.
    assert script.answer("No, what's the price?", turn=1).text.startswith("Understood")


def test_keywords_match_whole_words_only() -> None:
    script = Script(BOOKING_SCRIPT)
    assert script.answer("I don't know yet", turn=1).source == "reply"  # "no" is not in "know"
    assert script.answer("Nope", turn=1).source == "reply"
    assert script.answer("Priceless", turn=1).source == "reply"
    assert script.answer("no.", turn=1).source == "rule"
    assert script.answer("Well, No!", turn=1).source == "rule"


def test_the_fallback_answers_once_the_replies_run_out() -> None:
    script = Script(BOOKING_SCRIPT)
    assert script.answer("One more thing", turn=4) == ScriptedAnswer(
        "Sorry, I can only help with bookings.", False, "fallback"
    )
    assert Script(AgentScriptConfig(fallback="Bye.")).answer("hello", turn=1).text == "Bye."


def test_the_script_is_validated_at_the_boundary() -> None:
    parsed = AgentScriptConfig.model_validate(
        {
            "replies": [{"text": "Hi"}],
            "rules": [{"keywords": ["help"], "reply": "Sure.", "end_call": True}],
        }
    )
    assert parsed.rules[0].end_call is True and parsed.fallback
    for bad in (
        {"rules": [{"keywords": [], "reply": "x"}]},
        {"rules": [{"keywords": ["  "], "reply": "x"}]},
        {"replies": [{"text": "Hi", "end_call": "true"}]},
        {"replies": [{"text": ""}]},
        {"fallback": "ok", "model": "gpt-4"},
    ):
        with pytest.raises(ValidationError):
            AgentScriptConfig.model_validate(bad)


def test_stream_pieces_join_back_to_the_reply() -> None:
    line = "Booked. See you then on Tuesday at three, goodbye!"
    pieces = stream_pieces(line)
    assert len(pieces) > 1 and "".join(pieces) == line


async def test_scripted_engine_answers_in_the_frames_an_llm_service_emits() -> None:
    llm = ScriptedLLM(BOOKING_SCRIPT)
    ended: list[ScriptedAnswer] = []

    @llm.event_handler("on_end_call_requested")
    async def _end_call(_llm: ScriptedLLM, answer: ScriptedAnswer) -> None:
        ended.append(answer)

    down, up = await run_llm(
        llm,
        conversation("Hi, I need an appointment"),
        conversation("Hi, I need an appointment", "How much does it cost?"),
        conversation("Hi, I need an appointment", "How much does it cost?", "3pm", "Great"),
    )

    assert shape(down) == [
        "LLMFullResponseStartFrame",
        "LLMTextFrame",
        "LLMFullResponseEndFrame",
    ] * 3
    replies = "".join(texts(down))
    assert replies == (
        "Sure. What day would you like to come in?"
        "A visit costs forty dollars."
        "Sorry, I can only help with bookings."
    )
    assert len(texts(down)) > 3  # streamed in pieces, not one frame per reply
    assert ended == []
    assert [a.source for a in llm.answers] == ["reply", "rule", "fallback"]
    assert not [f for f in up if isinstance(f, ErrorFrame)]


async def test_scripted_engine_reports_end_call_after_the_line() -> None:
    llm = ScriptedLLM(BOOKING_SCRIPT)
    seen_at_end_call: list[int] = []
    clock = FirstTextClock()

    @llm.event_handler("on_end_call_requested")
    async def _end_call(_llm: ScriptedLLM, answer: ScriptedAnswer) -> None:
        seen_at_end_call.append(len(llm.answers))
        assert answer.end_call and answer.text.startswith("Understood")

    down, _ = await run_llm(Pipeline([llm, clock]), conversation("No thanks, stop calling"))

    assert seen_at_end_call == [1]
    assert "".join(texts(down)) == "Understood, I won't call again. Goodbye."


async def test_scripted_engine_has_nothing_to_say_before_the_caller_speaks() -> None:
    down, _ = await run_llm(ScriptedLLM(BOOKING_SCRIPT), LLMContext(messages=[]))
    assert shape(down) == ["LLMFullResponseStartFrame", "LLMFullResponseEndFrame"]


async def test_scripted_and_openai_engines_emit_the_same_shape(server: FakeOpenAIServer) -> None:
    openai_llm = create_openai_llm(llm_config(server), connect=QUICK)
    openai_down, _ = await run_llm(openai_llm, conversation(USER_TEXT))
    scripted_down, _ = await run_llm(ScriptedLLM(BOOKING_SCRIPT), conversation(USER_TEXT))
    assert [type(f) for f in scripted_down if not isinstance(f, LLMTextFrame)] == [
        type(f) for f in openai_down if not isinstance(f, LLMTextFrame)
    ]
    assert shape(scripted_down) == shape(openai_down)


# --- Registry ------------------------------------------------------------------------------------


@dataclass
class AgentLlm:
    provider: str | None = None
    model: str | None = None
    temperature: float | None = None


OPERATOR_GROQ = LlmConfig(
    provider="groq", base_url=None, api_key=API_KEY, model="llama-3.1-8b-instant", temperature=0.5
)


def test_registry_explicit_scripted_wins_over_an_operator_endpoint() -> None:
    engine = llm_engine_for(
        AgentLlm(provider="scripted"), LlmDefaults(llm=OPERATOR_GROQ), script=BOOKING_SCRIPT
    )
    assert isinstance(engine, ScriptedLLM)
    assert engine.script.config is BOOKING_SCRIPT


def test_registry_nothing_configured_gives_the_fallback_line() -> None:
    engine = llm_engine_for(None, LlmDefaults(fallback_line="This line is not staffed yet."))
    assert isinstance(engine, ScriptedLLM)
    assert not engine.script.config.replies and not engine.script.config.rules
    assert engine.script.answer("hello?", turn=1).text == "This line is not staffed yet."
    assert isinstance(llm_engine_for(AgentLlm(), LlmDefaults()), ScriptedLLM)


def test_registry_an_agent_script_beats_the_operator_default() -> None:
    engine = llm_engine_for(AgentLlm(), LlmDefaults(llm=OPERATOR_GROQ), script=BOOKING_SCRIPT)
    assert isinstance(engine, ScriptedLLM) and engine.script.config is BOOKING_SCRIPT


def test_registry_operator_endpoint_with_agent_overrides() -> None:
    engine = llm_engine_for(AgentLlm(temperature=0.0), LlmDefaults(llm=OPERATOR_GROQ))
    assert isinstance(engine, OpenAICompatibleLLM)
    assert engine.provider == "groq"
    assert str(engine._client.base_url) == "https://api.groq.com/openai/v1/"
    assert engine._client.api_key == API_KEY
    assert engine._settings.model == "llama-3.1-8b-instant"
    assert engine._settings.temperature == 0.0


@pytest.mark.parametrize("provider", ["openai", "openai-compatible", "groq", "together"])
def test_registry_known_providers_need_a_configured_key(provider: str) -> None:
    with pytest.raises(LlmUnavailable) as raised:
        llm_engine_for(AgentLlm(provider=provider, model="m"), LlmDefaults())
    assert raised.value.code == "llm_unavailable"
    assert provider in str(raised.value)


def test_registry_refuses_a_key_meant_for_another_provider() -> None:
    with pytest.raises(LlmUnavailable):
        llm_engine_for(
            AgentLlm(provider="openai", model="gpt-4.1-mini"), LlmDefaults(llm=OPERATOR_GROQ)
        )


def test_registry_openai_compatible_means_the_operator_endpoint() -> None:
    engine = llm_engine_for(AgentLlm(provider="openai-compatible"), LlmDefaults(llm=OPERATOR_GROQ))
    assert isinstance(engine, OpenAICompatibleLLM)
    assert str(engine._client.base_url) == "https://api.groq.com/openai/v1/"


def test_registry_local_servers_need_no_key() -> None:
    engine = llm_engine_for(AgentLlm(provider="ollama", model="llama3.2"), LlmDefaults())
    assert isinstance(engine, OpenAICompatibleLLM)
    assert str(engine._client.base_url) == "http://127.0.0.1:11434/v1/"


def test_registry_refuses_unknown_providers_and_missing_models() -> None:
    with pytest.raises(LlmUnavailable, match="one of: "):
        llm_engine_for(AgentLlm(provider="gpt5-magic"), LlmDefaults())
    with pytest.raises(LlmUnavailable, match="model"):
        llm_engine_for(AgentLlm(provider="ollama"), LlmDefaults())
    assert {"scripted", "openai", "openai-compatible", "groq", "ollama"} <= set(LLM_ENGINES)
