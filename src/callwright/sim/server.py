"""``CarrierSimulator``: the simulator as a library, served by uvicorn in a background thread.

Calls play out on that thread's event loop; the methods here are safe to call from any thread
(``wait_for_call*`` come in an awaitable and a blocking form).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from callwright.domain.providers import Provider
from callwright.sim.app import api_urls, create_sim_app
from callwright.sim.caller import caller_track
from callwright.sim.calls import SimCall
from callwright.sim.conference import TimelineEvent
from callwright.sim.numbers import SimApplication, SimNumber
from callwright.sim.outcome_mix import OutcomeMix
from callwright.sim.scenarios import Scenario, ScenarioBook
from callwright.sim.state import Fault, RequestRecord, SimAccount, SimState, parse_account
from callwright.sim.switchboard import CALLBACK_TIMEOUT_SECS, Switchboard

POLL_SECS = 0.01


class CarrierSimulator:
    """Vobiz, Plivo, Twilio, Exotel and MCube on one local port: their REST APIs, and the far end
    of every call placed through them (callbacks, media stream, a scripted caller).

    >>> sim = CarrierSimulator()
    >>> sim.add_account("vobiz", auth_id="MA_ABCD1234", auth_token="tok")
    >>> sim.set_scenario("+919876543210", Scenario.caller_hangs_up_after(8, "Hello? Who is this?"))
    >>> with sim.running() as base_url:
    ...     sim.api_urls()["vobiz"]   # f"{base_url}/vobiz/api/v1": point the platform here
    ...     call = sim.wait_for_call_sync(to="+919876543210")   # once the platform has dialed
    ...     sim.wait_for_call_end_sync(call.call_id).save_wav("call.wav")
    """

    def __init__(
        self,
        state: SimState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_secs: float = 10.0,
        callback_timeout_secs: float = CALLBACK_TIMEOUT_SECS,
    ) -> None:
        self.state = state or SimState()
        self.host = host
        self.port = port
        self.startup_timeout_secs = startup_timeout_secs
        self.callback_timeout_secs = callback_timeout_secs
        self._switchboard: Switchboard | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._base_url: str | None = None

    def add_account(self, provider: str, **fields: Any) -> SimAccount:
        """Accept an account from now on; ``fields`` are the carrier's credential fields."""
        account = parse_account(provider, fields)
        self.state.add_account(account)
        return account

    def add_number(self, provider: str, account_id: str, phone_number: str, *, voice_url: str | None = None) -> SimNumber:
        """Give a Twilio/Plivo/Vobiz account ``phone_number`` (Exotel's are its ``exophones``);
        ``voice_url``: the Twilio VoiceUrl already set on it."""
        return self.state.numbers.add_number(Provider(provider), account_id, phone_number, voice_url=voice_url)

    def add_application(self, provider: str, account_id: str, *, name: str, answer_url: str) -> SimApplication:
        """A Plivo/Vobiz application the account already has."""
        return self.state.numbers.add_application(Provider(provider), account_id, name=name, answer_url=answer_url)

    def inbound_url(self, provider: str, account_id: str, phone_number: str) -> str | None:
        """Where the carrier sends an inbound call to ``phone_number`` now (VoiceUrl or the linked
        application's answer_url)."""
        return self.state.numbers.inbound_url(Provider(provider), account_id, phone_number)

    def set_exotel_flow(self, account_sid: str, exophone: str, applet_url: str | None) -> None:
        """Put a Voicebot applet with ``applet_url`` first in ``exophone``'s flow (what a partner
        does in Exotel's dashboard); None removes it."""
        self.state.numbers.set_flow(account_sid, exophone, applet_url)

    async def place_inbound_call(self, provider: str, account_id: str, *, to: str, from_: str) -> SimCall:
        """A caller (``from_``, playing its number's scenario) rings the account's number ``to``;
        the carrier runs what the number routes to. Raises LookupError when it routes nowhere."""
        body = {"provider": provider, "account_id": account_id, "to": to, "from": from_}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as client:
            response = await client.post("/_sim/inbound", json=body)
        if response.status_code == 409:
            raise LookupError(response.json().get("detail"))
        response.raise_for_status()
        return self.call(response.json()["call_id"])

    def inject_fault(
        self,
        provider: str,
        *,
        status: int | None = None,
        count: int | None = 1,
        delay_secs: float = 0.0,
        act_first: bool = False,
        retry_after_secs: int | None = None,
    ) -> None:
        """Delay and/or answer ``status`` to the provider's next ``count`` requests (None: all).

        ``act_first``: the carrier acts on the request, then answers late (see ``Fault``)."""
        fault = Fault(
            status=status,
            count=count,
            delay_secs=delay_secs,
            act_first=act_first,
            retry_after_secs=retry_after_secs,
        )
        self.state.inject_fault(Provider(provider), fault)

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def requests(self, provider: str | None = None) -> list[RequestRecord]:
        return self.state.requests(Provider(provider) if provider else None)

    def clear_requests(self) -> None:
        self.state.clear_requests()

    # --- scenarios -----------------------------------------------------------------------------

    def set_scenario(self, number: str | None, scenario: Scenario, *, prepare: bool = True) -> None:
        """Calls to ``number`` (None: to every number without its own) play ``scenario``.

        ``prepare`` renders the caller's speech now, so the first call does not wait for Piper.
        """
        if prepare and scenario.answers:
            caller_track(scenario)
        self.state.scenarios.set(number, scenario)

    def set_sequence(self, number: str, scenarios: Sequence[Scenario], *, prepare: bool = True) -> None:
        """Successive calls to ``number`` play ``scenarios`` in turn (the last one repeats)."""
        if prepare:
            for scenario in scenarios:
                if scenario.answers:
                    caller_track(scenario)
        self.state.scenarios.set_sequence(number, scenarios)

    def set_mix(self, mix: OutcomeMix | None, *, prepare: bool = True) -> None:
        """Numbers without a scenario of their own pick one from ``mix`` on each dial."""
        if prepare and mix is not None:
            for choice in mix.choices:
                if choice.scenario.answers:
                    caller_track(choice.scenario)
        self.state.scenarios.set_mix(mix)

    def dials(self, number: str) -> int:
        """How many calls to ``number`` the simulator has placed (since scenarios were cleared)."""
        return self.state.scenarios.dials(number)

    def clear_scenarios(self) -> None:
        self.state.scenarios.clear()

    # --- calls -----------------------------------------------------------------------------

    def call(self, call_id: str) -> SimCall:
        """The call the carrier knows as ``call_id`` (any of its ids: request_uuid, CallUUID…)."""
        call = self.state.calls.get(call_id)
        if call is None:
            raise KeyError(f"the simulator placed no call {call_id!r}")
        return call

    def calls(self, *, carrier: str | None = None, to: str | None = None) -> list[SimCall]:
        wanted = ScenarioBook.key(to) if to else None
        return [
            call
            for call in self.state.calls.all()
            if (carrier is None or call.carrier == carrier)
            and (wanted is None or ScenarioBook.key(call.to) == wanted)
        ]

    def clear_calls(self) -> None:
        self.state.calls.clear()
        self.state.timeline.clear()

    def timeline(self, *, call_id: str | None = None) -> list[TimelineEvent]:
        """What the carrier said on calls and their conference joins and leaves, in the order
        they happened (``call_id``: one call's, by any of its ids)."""
        wanted = self.call(call_id).call_id if call_id is not None else None
        return self.state.timeline.events(call_id=wanted)

    def wait_for_call_sync(
        self, *, to: str | None = None, carrier: str | None = None, timeout: float = 10.0
    ) -> SimCall:
        """The newest call to ``to`` (and/or via ``carrier``), once one has been dialed."""
        deadline = time.monotonic() + timeout
        while not (found := self.calls(carrier=carrier, to=to)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no call to {to or 'any number'} was dialed in {timeout} s")
            time.sleep(POLL_SECS)
        return found[-1]

    async def wait_for_call(
        self, *, to: str | None = None, carrier: str | None = None, timeout: float = 10.0
    ) -> SimCall:
        deadline = time.monotonic() + timeout
        while not (found := self.calls(carrier=carrier, to=to)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no call to {to or 'any number'} was dialed in {timeout} s")
            await asyncio.sleep(POLL_SECS)
        return found[-1]

    def wait_for_call_end_sync(self, call_id: str, timeout: float = 30.0) -> SimCall:
        """The call once it has ended and its final callbacks have been answered."""
        call = self.call(call_id)
        if not call.ended.wait(timeout):
            raise TimeoutError(f"simulated call {call_id} did not end in {timeout} s")
        return call

    async def wait_for_call_end(self, call_id: str, timeout: float = 30.0) -> SimCall:
        call = self.call(call_id)
        deadline = time.monotonic() + timeout
        while not call.ended.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulated call {call_id} did not end in {timeout} s")
            await asyncio.sleep(POLL_SECS)
        return call

    def caller_hangs_up(self, call_id: str) -> bool:
        """The answering party hangs up now; False if the call is no longer up."""
        if self._switchboard is None:
            return False
        return self._switchboard.caller_hangs_up_threadsafe(self.call(call_id).call_id)

    def drop_media(self, call_id: str) -> bool:
        """Cut the call's media connection (no close frame, no stop); False if it has none."""
        return self._on_stream(call_id, "drop")

    def stall_media(self, call_id: str) -> bool:
        """Silence the call's media stream without closing it; False if it has none."""
        return self._on_stream(call_id, "stall")

    def _on_stream(self, call_id: str, action: str) -> bool:
        stream = self.call(call_id).media_stream
        loop = self._switchboard.loop if self._switchboard is not None else None
        if stream is None or loop is None:
            return False
        loop.call_soon_threadsafe(getattr(stream, action))
        return True

    def live_calls(self) -> int:
        return self._switchboard.live_count() if self._switchboard is not None else 0

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the carrier simulator is not running; call start() first")
        return self._base_url

    def api_urls(self) -> dict[str, str]:
        """Each carrier's REST base URL on this simulator, keyed by provider name."""
        return api_urls(self.base_url)

    def start(self) -> str:
        """Serve in a background thread; returns the base URL once the port accepts connections."""
        if self._server is not None:
            raise RuntimeError("the carrier simulator is already running")
        listener = socket.create_server((self.host, self.port))
        app = create_sim_app(self.state, callback_timeout_secs=self.callback_timeout_secs)
        self._switchboard = app.state.switchboard
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            # A request held by a delay fault must not hold up stop().
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name="carrier-sim", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, listener
        thread.start()
        deadline = time.monotonic() + self.startup_timeout_secs
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the carrier simulator did not start")
            time.sleep(0.01)
        host, port = listener.getsockname()[:2]
        self._base_url = f"http://{host}:{port}"
        return self._base_url

    def stop(self) -> None:
        server, thread, listener = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        self._base_url = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
        if listener is not None:
            listener.close()

    @contextmanager
    def running(self) -> Iterator[str]:
        """``start()`` on entry (yielding the base URL), ``stop()`` on exit."""
        base_url = self.start()
        try:
            yield base_url
        finally:
            self.stop()
