"""A local OpenAI-compatible chat-completions server, served by uvicorn on a free port in a thread.

``POST /v1/chat/completions`` with ``stream: true`` answers with Server-Sent Events shaped like
OpenAI's (``chat.completion.chunk`` objects, then ``data: [DONE]``). It records every request it
receives; ``mode`` makes it fail with a 500 or hang past the client's timeout instead.

A request without ``stream: true`` (post-call extraction's structured output) is answered with
one ``chat.completion`` whose content is the next of ``completions`` (the last one repeats).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

# A hanging request sleeps this long; the client under test gives up well before.
HANG_SECS = 1.5


@dataclass
class ReceivedRequest:
    body: dict[str, Any]
    authorization: str | None
    received_at: float  # time.monotonic(), comparable with the test's clock (same process)


@dataclass
class FakeOpenAIServer:
    pieces: list[str] = field(default_factory=lambda: ["Hello", " there,", " how can", " I help?"])
    mode: Literal["stream", "error", "hang"] = "stream"
    piece_gap_secs: float = 0.005
    # When set and the request offers a function of this name, the reply ends by calling it
    # with ``tool_arguments``; a request whose last message is that tool's result is answered
    # with ``after_tool`` instead (the model speaking the result), without calling it again.
    tool_call: str | None = None
    tool_arguments: dict[str, Any] = field(default_factory=dict)
    after_tool: list[str] = field(default_factory=lambda: ["All done."])
    # Contents of the non-streamed answers, in order; the last one is repeated.
    completions: list[str] = field(default_factory=lambda: ["{}"])
    requests: list[ReceivedRequest] = field(default_factory=list)
    port: int = 0

    def of_kind(self, *, streamed: bool) -> list[ReceivedRequest]:
        return [r for r in self.requests if bool(r.body.get("stream")) is streamed]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> Any:
            body = await request.json()
            self.requests.append(
                ReceivedRequest(body, request.headers.get("authorization"), time.monotonic())
            )
            if self.mode == "error":
                error = {"message": "The model crashed.", "type": "server_error", "code": None}
                return JSONResponse({"error": error}, status_code=500)
            if self.mode == "hang":
                await asyncio.sleep(HANG_SECS)
            if not body.get("stream"):
                content = self.completions.pop(0) if len(self.completions) > 1 else self.completions[0]
                return JSONResponse(
                    {
                        "id": "chatcmpl-local",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                        ],
                    }
                )
            offered = {t.get("function", {}).get("name") for t in body.get("tools") or []}
            call = self.tool_call if self.tool_call in offered else None
            messages = body.get("messages") or [{}]
            if messages[-1].get("role") == "tool":
                return StreamingResponse(self._events(body["model"], None, self.after_tool), media_type="text/event-stream")
            return StreamingResponse(self._events(body["model"], call), media_type="text/event-stream")

        return app

    async def _events(
        self, model: str, tool_call: str | None = None, pieces: list[str] | None = None
    ) -> AsyncIterator[str]:
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish_reason: str | None) -> str:
            body = {
                "id": "chatcmpl-local",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            return f"data: {json.dumps(body)}\n\n"

        yield chunk({"role": "assistant", "content": ""}, None)
        for piece in self.pieces if pieces is None else pieces:
            await asyncio.sleep(self.piece_gap_secs)
            yield chunk({"content": piece}, None)
        if tool_call is not None:
            # OpenAI streams a tool call as its id and name first, then its arguments in pieces.
            head = {"index": 0, "id": "call_local_1", "type": "function",
                    "function": {"name": tool_call, "arguments": ""}}
            yield chunk({"tool_calls": [head]}, None)
            arguments = json.dumps(self.tool_arguments)
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]}, None)
            yield chunk({}, "tool_calls")
        else:
            yield chunk({}, "stop")
        yield "data: [DONE]\n\n"


@contextlib.contextmanager
def serving_in_thread(server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server.port = sock.getsockname()[1]
    config = uvicorn.Config(
        server.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=HANG_SECS + 1
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # only a hang guard: a loaded box starts slowly
    while not runner.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake OpenAI server did not start")
        time.sleep(0.01)
    try:
        yield server
    finally:
        runner.should_exit = True
        thread.join(HANG_SECS + 3)
        sock.close()


def local_llm_settings(server: FakeOpenAIServer) -> dict[str, object]:
    """Platform settings that make ``server`` the operator's OpenAI-compatible LLM (for a test
    module's ``platform_settings`` fixture)."""
    return {
        "llm_provider": "openai-compatible",
        "llm_base_url": server.base_url,
        "llm_api_key": "sk-local-test-key",
        "llm_model": "local-model",
    }
