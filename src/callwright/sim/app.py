"""The simulator's ASGI app: one router per carrier, mounted at ``/{provider}``, plus ``/_sim``.

Each carrier router serves the real host's paths, so ``https://api.plivo.com/v1/Account/…`` is
``{base}/plivo/v1/Account/…`` here and a client only swaps its base URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from callwright.domain.providers import Provider
from callwright.sim import control, exotel, mcube, plivo, twilio, vobiz
from callwright.sim.auth import Refusal
from callwright.sim.state import Fault, RequestRecord, SimState
from callwright.sim.switchboard import CALLBACK_TIMEOUT_SECS, Switchboard

CARRIER_ROUTERS: dict[Provider, APIRouter] = {
    Provider.VOBIZ: vobiz.router,
    Provider.PLIVO: plivo.router,
    Provider.TWILIO: twilio.router,
    Provider.EXOTEL: exotel.router,
    Provider.MCUBE: mcube.router,
}

# Where each carrier's REST base (as in Settings: vobiz_api_url, …) lives under the simulator.
API_PATHS: dict[Provider, str] = {
    Provider.VOBIZ: "/vobiz/api/v1",
    Provider.PLIVO: "/plivo/v1",
    Provider.TWILIO: "/twilio/2010-04-01",
    # The Exotel adapter appends /v1/… or /v2_beta/… itself.
    Provider.EXOTEL: "/exotel",
    Provider.MCUBE: "/mcube/Restmcube-api",
}


_PROVIDER_NAMES = frozenset(provider.value for provider in Provider)


def api_urls(base_url: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    return {provider.value: base + path for provider, path in API_PATHS.items()}


def create_sim_app(
    state: SimState,
    *,
    callback_timeout_secs: float = CALLBACK_TIMEOUT_SECS,
    steady_clock: bool = False,
) -> FastAPI:
    """``steady_clock``: keep the collector off the simulator's clock (``sim.steady_clock``); for
    a simulator that has its process to itself."""
    switchboard = Switchboard(state, callback_timeout_secs=callback_timeout_secs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keeper = None
        if steady_clock:
            from callwright.sim.steady_clock import keep_collector_off_the_clock

            keeper = asyncio.create_task(keep_collector_off_the_clock(switchboard.live_count))
        yield
        if keeper is not None:
            keeper.cancel()
        # Calls still up end now (their final callbacks go out, briefly).
        await switchboard.close()

    # No slash redirects: a client that drops Plivo's trailing slash must see it fail, not be fixed.
    app = FastAPI(title="Callwright carrier simulator", redirect_slashes=False, lifespan=lifespan)
    app.state.sim = state
    app.state.switchboard = switchboard
    for provider, router in CARRIER_ROUTERS.items():
        app.include_router(router, prefix=f"/{provider.value}")
    # MCube's call release lives at the host's root (config.mcube.com/hangup-api/…).
    app.include_router(mcube.release_router)
    app.include_router(control.router, prefix="/_sim")

    @app.exception_handler(Refusal)
    async def answer_refusal(request: Request, exc: Refusal) -> Response:
        return exc.response

    @app.middleware("http")
    async def carrier_traffic(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        carrier = carrier_of(request.url.path)
        if carrier is None:  # the control API and anything else that is no carrier's
            return await call_next(request)
        fault = state.take_fault(carrier)
        if fault is not None and fault.act_first:
            real = await call_next(request)
            response = await faulty_answer(fault) or real
        else:
            faulty = await faulty_answer(fault) if fault else None
            response = faulty if faulty is not None else await call_next(request)
        state.record_request(
            RequestRecord(request.method, request.url.path, carrier, response.status_code)
        )
        return response

    return app


def carrier_of(path: str) -> Provider | None:
    first_segment = path.lstrip("/").partition("/")[0]
    if first_segment == "hangup-api":
        return Provider.MCUBE
    return Provider(first_segment) if first_segment in _PROVIDER_NAMES else None


async def faulty_answer(fault: Fault) -> Response | None:
    """Sleep as the fault says, then its status answer (None: go on to the real answer)."""
    if fault.delay_secs:
        await asyncio.sleep(fault.delay_secs)
    if fault.status is None:
        return None
    try:
        reason = HTTPStatus(fault.status).phrase
    except ValueError:
        reason = f"HTTP {fault.status}"
    headers = {} if fault.retry_after_secs is None else {"Retry-After": str(fault.retry_after_secs)}
    return JSONResponse(
        {"error": f"{reason} (fault injected by the Callwright carrier simulator)"},
        status_code=fault.status,
        headers=headers,
    )
