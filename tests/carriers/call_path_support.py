"""What the call-path tests share: accounts, a dial request, an HTTP seam and SDK capture.

Our adapters talk through an ``httpx.AsyncClient`` on an ``httpx.MockTransport`` (the transport
seam httpx ships); the official SDKs talk through ``requests``, captured at ``Session.send``.
Both sides' requests become ``Sent`` values so a test compares them field by field.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

import httpx
import requests

from callwright.carriers.base import Account, CarrierEndpoints, DialRequest

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ENDPOINTS = CarrierEndpoints(
    vobiz="https://api.vobiz.ai/api/v1",
    plivo="https://api.plivo.com/v1",
    twilio="https://api.twilio.com/2010-04-01",
    exotel=None,
    mcube="https://api.mcube.com/Restmcube-api",
    timeout_secs=2.0,
)
PUBLIC = "https://cw.example.com"
CALL_ID = "call_7f3a9c"
TOKEN = "per-call-token-Zq81"
AUTH_TOKEN = "carrier-secret-token-0123456789"


def dial_request(
    provider: str, *, to: str = "+14155550111", src: str = "+14155550100", **extra: Any
) -> DialRequest:
    base = f"{PUBLIC}/telephony/{provider}/{CALL_ID}"
    fields: dict[str, Any] = dict(
        call_id=CALL_ID,
        to_number=to,
        from_number=src,
        answer_url=f"{base}/answer?token={TOKEN}",
        status_url=f"{base}/status?token={TOKEN}",
        stream_url=f"wss://cw.example.com/media/{provider}/{CALL_ID}",
    )
    fields.update(extra)
    return DialRequest(**fields)


def amd_url(provider: str) -> str:
    return f"{PUBLIC}/telephony/{provider}/{CALL_ID}/machine?token={TOKEN}"


def account(identifiers: dict[str, str], secrets: dict[str, str]) -> Account:
    return Account(identifiers=identifiers, secrets=secrets)


@dataclass
class Sent:
    """One HTTP request, reduced to what a carrier reads."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode(), keep_blank_values=True)


Responder = Callable[[httpx.Request], httpx.Response]


@dataclass
class CarrierStub:
    """A stand-in carrier behind httpx's MockTransport: records requests, plays scripted answers."""

    answers: list[httpx.Response | Exception | Responder] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(
            Sent(
                request.method,
                str(request.url),
                {k.lower(): v for k, v in request.headers.items()},
                request.read(),
            )
        )
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))


def answering(*answers: httpx.Response | Exception) -> CarrierStub:
    return CarrierStub(list(answers))


@contextmanager
def requests_capture(
    answer: Callable[[requests.PreparedRequest], tuple[int, Any]],
) -> Iterator[list[Sent]]:
    """Capture what an official SDK sends through ``requests`` (no network)."""
    sent: list[Sent] = []

    def send(
        session: requests.Session, prepared: requests.PreparedRequest, **_: Any
    ) -> requests.Response:
        body = prepared.body or b""
        sent.append(
            Sent(
                prepared.method or "",
                prepared.url or "",
                {k.lower(): v for k, v in prepared.headers.items()},
                body.encode() if isinstance(body, str) else body,
            )
        )
        status, payload = answer(prepared)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(payload).encode() if payload is not None else b""
        response.headers["Content-Type"] = "application/json"
        response.url = prepared.url or ""
        response.request = prepared
        return response

    with mock.patch.object(requests.Session, "send", send):
        yield sent


def element_tree(xml: str) -> tuple:
    """An XML document as (tag, attributes, text, children), whitespace-insensitive."""

    def walk(element: ElementTree.Element) -> tuple:
        return (
            element.tag,
            dict(element.attrib),
            (element.text or "").strip(),
            [walk(child) for child in element],
        )

    return walk(ElementTree.fromstring(xml.encode()))


@contextmanager
def no_hang_up_attempts(serializer_class: type) -> Iterator[list[str]]:
    """Record any attempt by a pipecat serializer to hang up over REST, and block the network."""
    attempts: list[str] = []

    async def record(self: Any) -> None:
        attempts.append(type(self).__name__)

    def no_network(*_: Any, **__: Any) -> None:
        raise AssertionError("the serializer opened an HTTP session")

    patches = [mock.patch("aiohttp.ClientSession.__init__", no_network)]
    if hasattr(serializer_class, "_hang_up_call"):
        patches.append(mock.patch.object(serializer_class, "_hang_up_call", record))
    for patch in patches:
        patch.start()
    try:
        yield attempts
    finally:
        for patch in patches:
            patch.stop()
