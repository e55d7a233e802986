"""Calling a custom function's URL: one POST of JSON through the SSRF guard, bounded by the
function's timeout, its answer read up to ``RESULT_BYTES_MAX``. Used mid-call (the model's tool
call) and by ``POST /functions/{id}/test`` (a dry run, without a call)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from callwright.domain.functions import RESULT_BYTES_MAX, FunctionTool, SchemaField
from callwright.domain.webhook_urls import UrlPolicy, UrlRefused, parse_webhook_url
from callwright.services.functions import open_headers
from callwright.services.webhook_targets import checked_addresses, post_pinned
from callwright.store.models import Function
from callwright.store.secretbox import SecretBox

Status = Literal["ok", "error", "timeout", "refused", "cancelled"]
USER_AGENT = "Callwright-Functions/1"


@dataclass(frozen=True, slots=True)
class Invocation:
    """How one request went. ``result`` is the answer's JSON (or its text when not JSON)."""

    status: Status
    latency_ms: int | None
    status_code: int | None = None
    result: Any = None
    result_bytes: int = 0
    truncated: bool = False
    error: str | None = None

    def for_model(self) -> dict[str, Any]:
        """What the model is told."""
        if self.status == "ok":
            return {"status": "ok", "result": self.result}
        return {"status": "error", "error": self.error or "the function failed"}

    def event_payload(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The call-event record: never header values, never the answer itself."""
        return {
            "function": name,
            "arguments": dict(arguments),
            "status": self.status,
            "status_code": self.status_code,
            "latency_ms": self.latency_ms,
            "result_bytes": self.result_bytes,
            "error": self.error,
        }


def tool_of(function: Function, *, secretbox: SecretBox) -> FunctionTool:
    """The stored function with its header values opened, as a call uses it."""
    return FunctionTool(
        id=function.id,
        name=function.name,
        description=function.description,
        url=function.url,
        headers=open_headers(function, secretbox=secretbox),
        input_schema=tuple(SchemaField.parse(f) for f in function.input_schema or []),
        timeout_secs=function.timeout_secs,
        started_messages=tuple(function.started_messages or []),
        error_message=function.error_message,
    )


async def invoke(
    http: httpx.AsyncClient,
    tool: FunctionTool,
    *,
    arguments: Mapping[str, Any],
    variables: Mapping[str, Any],
    policy: UrlPolicy,
) -> Invocation:
    body = json.dumps(tool.request_body(arguments, variables), separators=(",", ":"), ensure_ascii=False).encode()
    headers = dict(tool.headers) | {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    timeout = float(tool.timeout_secs)
    started = time.monotonic()
    try:
        target = parse_webhook_url(tool.url, policy)
        async with asyncio.timeout(timeout):  # the whole request, resolution included
            addresses = await checked_addresses(target, policy)
            answer = await post_pinned(
                http, target, addresses, body=body, headers=headers, timeout=timeout,
                read_limit=RESULT_BYTES_MAX + 1, read_success_body=True,
            )
    except UrlRefused as exc:
        return Invocation("refused", None, error=f"not sent: {exc.reason}")
    except (TimeoutError, httpx.TimeoutException):
        return Invocation("timeout", _ms_since(started), error=f"no answer within {tool.timeout_secs} s")
    except httpx.HTTPError as exc:
        return Invocation("error", _ms_since(started), error=f"could not reach the function's URL ({exc.__class__.__name__})")
    latency = _ms_since(started)
    raw = answer.body_start[:RESULT_BYTES_MAX]
    truncated = len(answer.body_start) > RESULT_BYTES_MAX
    result = _decoded(raw)
    if not 200 <= answer.status_code < 300:
        return Invocation(
            "error", latency, answer.status_code, result, len(raw), truncated,
            error=f"the function's URL answered HTTP {answer.status_code}",
        )
    return Invocation("ok", latency, answer.status_code, result, len(raw), truncated)


def _decoded(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _ms_since(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))
