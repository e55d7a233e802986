"""The carrier's side of one outbound call, after its dial request: ringing, the scenario's
outcome, then (per carrier) the answer document and media stream, the hang-up and every callback.

One asyncio task per call runs ``FarEnd.run`` on the simulator's event loop. Its callbacks go out
one at a time, in the order they happened, from a second task: the call itself waits only for the
ones whose answer it needs (the answer URL), never for a status webhook.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import secrets
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from callwright.sim.caller import caller_track
from callwright.sim.calls import CallbackRecord, EndReason, SimCall
from callwright.sim.scenarios import Outcome
from callwright.sim.state import SimAccount
from callwright.sim.transport import TransportError

if TYPE_CHECKING:
    from callwright.sim.switchboard import Switchboard

log = logging.getLogger("callwright.sim")

# From the dial request to the first ring; a failed call fails after this long.
SETUP_SECS = 0.05
CALLER_PHASE_SECS = 0.02
# How long the carrier's text-to-speech takes to say a line (the words are recorded, not the audio).
SAY_SECS = 1.0

Body = Literal["form", "multipart", "json"]


class FarEnd(ABC):
    carrier: ClassVar[str]

    def __init__(self, *, call: SimCall, account: SimAccount, switchboard: Switchboard) -> None:
        self.call = call
        self.account = account
        self.switchboard = switchboard
        self.ending = asyncio.Event()
        self._notices: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()
        self._background: set[asyncio.Task[Any]] = set()

    def background(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` alongside the call (machine detection, a stream nobody waits for)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # --- ending the call ---------------------------------------------------------------------

    def end(self, reason: EndReason) -> None:
        """End the call for ``reason``; the first reason given wins."""
        if self.call.end_reason is None:
            self.call.end_reason = reason
        self.ending.set()

    def hang_up_by_api(self) -> None:
        self.end(EndReason.API_HANGUP if self.call.answered_at is not None else EndReason.CANCELED)

    def end_for_shutdown(self) -> None:
        self.end(EndReason.SIMULATOR_STOPPED)

    def caller_hangs_up(self) -> None:
        answered = self.call.answered_at is not None
        self.end(EndReason.CALLEE_HUNG_UP if answered else EndReason.CANCELED)

    async def wait(self, secs: float) -> bool:
        """Sleep ``secs``; False when the call was ended meanwhile."""
        if self.ending.is_set():
            return False
        try:
            await asyncio.wait_for(self.ending.wait(), timeout=max(0.0, secs))
        except TimeoutError:
            return True
        return False

    async def say(self, text: str) -> bool:
        """The carrier's own text-to-speech (``<Speak>``, ``<Say>``) says ``text`` on this call; a
        second for it. False when the call ended meanwhile."""
        from callwright.sim.conference import SAID

        text = text.strip()
        self.call.carrier_said.append(text)
        self.switchboard.state.timeline.add(self.call.call_id, SAID, text)
        return await self.wait(SAY_SECS)

    async def conference(self, element: ET.Element) -> None:
        """Join the ``<Conference>``'s room until this call or the room ends."""
        end_on_exit = element.get("endConferenceOnExit", "false").lower() == "true"
        name = (element.text or "").strip()
        await self.switchboard.conferences.attend(self, name, end_on_exit=end_on_exit)

    # --- the call's life ---------------------------------------------------------------------

    async def run(self) -> None:
        deliveries = asyncio.create_task(self._deliver_notices())
        try:
            await self._place()
        except asyncio.CancelledError:
            self.end(EndReason.SIMULATOR_STOPPED)
        except Exception as exc:  # the call must still end, and say why
            log.exception("simulated %s call %s broke", self.carrier, self.call.call_id)
            self.call.notes.append(f"simulator error: {exc!r}")
            self.end(EndReason.SIMULATOR_STOPPED)
        finally:
            if self.call.end_reason is None:
                self.end(EndReason.STREAM_CLOSED)
            await self._settle_background()
            self.call.ended_at = self.call.now()
            self.call.playout.stop(self.call.ended_at)
            try:
                self.report_end()
            except Exception:
                log.exception("simulated %s call %s: final report", self.carrier, self.call.call_id)
            self._notices.put_nowait(None)
            drain_secs = self.switchboard.callback_timeout_secs * 3
            try:
                await asyncio.wait_for(deliveries, timeout=drain_secs)
            except (TimeoutError, asyncio.CancelledError):
                deliveries.cancel()
            self.call.ended.set()
            self.switchboard.forget(self)

    async def _settle_background(self) -> None:
        if not self._background:
            return
        _, pending = await asyncio.wait(set(self._background), timeout=3.0)
        for task in pending:
            task.cancel()

    async def _place(self) -> None:
        call, scenario = self.call, self.call.scenario
        if scenario.answers:
            # Piper rendering is CPU work: off the event loop (and cached across calls).
            call.caller_track = await asyncio.to_thread(caller_track, scenario)
        self.on_initiated()
        if not await self.wait(SETUP_SECS):
            return
        if scenario.outcome is Outcome.FAILED:
            self.end(EndReason.FAILED)
            return
        call.ringing_at = call.now()
        self.on_ringing()
        ring_timeout = self.ring_timeout_secs()
        if scenario.outcome is Outcome.BUSY:
            if await self.wait(scenario.ring_secs):
                self.end(EndReason.BUSY)
            return
        if scenario.outcome is Outcome.NO_ANSWER or scenario.ring_secs > ring_timeout:
            give_up = scenario.no_answer_after_secs
            if await self.wait(ring_timeout if give_up is None else give_up):
                self.end(EndReason.NO_ANSWER)
            return
        if not await self.wait(scenario.ring_secs):
            return
        call.answered_at = call.now()
        # A phone's audio clock has its own phase: without it, calls answered together would all
        # send their frames in the same instant, every 20 ms.
        call.audio_clock_at = call.answered_at + random.uniform(0.0, CALLER_PHASE_SECS)
        if not scenario.waits_for_agent:
            call.caller_started_at = call.audio_clock_at
        limits = asyncio.create_task(self._watch_limits())
        try:
            await self.on_answered()
        finally:
            limits.cancel()

    async def _watch_limits(self) -> None:
        """End the call when the answering party hangs up or the dial's time limit runs out."""
        deadlines = []
        if self.call.scenario.hangs_up_after_secs is not None:
            deadlines.append((self.call.scenario.hangs_up_after_secs, EndReason.CALLEE_HUNG_UP))
        time_limit = self.time_limit_secs()
        if time_limit:
            deadlines.append((float(time_limit), EndReason.TIME_LIMIT))
        if not deadlines:
            return
        secs, reason = min(deadlines)
        if await self.wait(secs):
            self.end(reason)

    # --- what each carrier does --------------------------------------------------------------

    def on_initiated(self) -> None:  # noqa: B027 - most carriers report nothing here
        """The carrier accepted the dial (Twilio reports ``initiated``)."""

    @abstractmethod
    def on_ringing(self) -> None: ...

    @abstractmethod
    async def on_answered(self) -> None:
        """Run the answered call until it ends (``self.ending`` is set)."""

    @abstractmethod
    def report_end(self) -> None:
        """Set the call's final status in the carrier's words and queue the final callbacks."""

    def ring_timeout_secs(self) -> float:
        return 60.0

    def duration_secs(self) -> int:
        """Answered seconds, rounded up as carriers bill them; 0 for a call never answered."""
        if self.call.answered_at is None or self.call.ended_at is None:
            return 0
        return math.ceil(self.call.ended_at - self.call.answered_at)

    def time_limit_secs(self) -> float | None:
        return None

    def sign(self, method: str, url: str, params: Mapping[str, str]) -> dict[str, str]:
        """The carrier's signature headers for a callback (none by default)."""
        return {}

    # --- callbacks to the platform -----------------------------------------------------------

    def notify(
        self,
        kind: str,
        url: str | None,
        params: Mapping[str, Any],
        *,
        method: str = "POST",
        body: Body = "form",
    ) -> None:
        """Queue a callback (none without a URL); callbacks go out one at a time, in order."""
        if url:
            self._notices.put_nowait((kind, url, dict(params), method, body, None))

    async def ask(
        self,
        kind: str,
        url: str,
        params: Mapping[str, Any],
        *,
        method: str = "POST",
        body: Body = "form",
    ) -> CallbackRecord:
        """A callback whose answer the call needs (the answer URL), after those queued before it."""
        answered: asyncio.Future[CallbackRecord] = asyncio.get_running_loop().create_future()
        self._notices.put_nowait((kind, url, dict(params), method, body, answered))
        return await answered

    async def _deliver_notices(self) -> None:
        while (notice := await self._notices.get()) is not None:
            kind, url, params, method, body, answered = notice
            record = await self._send(kind, url, params, method=method, body=body)
            if answered is not None and not answered.done():
                answered.set_result(record)

    async def _send(
        self, kind: str, url: str, params: dict[str, Any], *, method: str, body: Body
    ) -> CallbackRecord:
        """Make one request to the platform and record it with the platform's answer."""
        method = method.upper()
        params = {key: value for key, value in params.items() if value is not None}
        content: bytes | None = None
        headers: dict[str, str] = {}
        if method == "GET":
            url = with_query(url, params)
            headers.update(self.sign(method, url, {}))
        elif body == "json":
            content = json.dumps(params).encode()
            headers["Content-Type"] = "application/json"
        elif body == "multipart":
            content, headers["Content-Type"] = multipart(params)
        else:
            text_params = {key: str(value) for key, value in params.items()}
            content = urlencode(text_params).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers.update(self.sign(method, url, text_params))
        record = CallbackRecord(kind, method, url, params, dict(headers), self.call.now())
        self.call.callbacks.append(record)
        timeout = self.switchboard.callback_timeout_secs
        try:
            answer = await self.switchboard.transport.send(
                method, url, content=content, headers=headers, timeout=timeout
            )
        except TransportError as exc:
            record.error = str(exc)
        else:
            record.status_code, record.body = answer.status_code, answer.body
        record.answered_at = self.call.now()
        return record


def with_query(url: str, params: Mapping[str, Any]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    added = urlencode({key: str(value) for key, value in params.items()})
    query = "&".join(part for part in (parts.query, added) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def multipart(params: Mapping[str, Any]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    lines = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            disposition = f'Content-Disposition: form-data; name="{key}"'
            lines.append(f"--{boundary}\r\n{disposition}\r\n\r\n{item}\r\n")
    lines.append(f"--{boundary}--\r\n")
    return "".join(lines).encode(), f"multipart/form-data; boundary={boundary}"
