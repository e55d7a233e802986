"""The processes under test: the carrier simulator and Callwright, each ``callwright`` as an
operator runs it, talking over local HTTP and WebSockets; plus the partner the benchmark uses."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bench.common import BIN, Child, free_port

from callwright.sim.scenarios import Scenario

TWILIO_SID = "AC" + "be" * 16
TWILIO_TOKEN = "bench-twilio-token"
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef0123"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123456789"
FROM_NUMBER = "+14155550199"
INTRO = "Hello, this is a test."
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Latencies:
    stt_ms: float = 0.0
    llm_ms: float = 0.0
    tts_ms: float = 0.0


ZERO = Latencies()
REALISTIC = Latencies(stt_ms=150, llm_ms=300, tts_ms=100)


class Sim:
    """``callwright sim serve`` in its own process, with the benchmark's Twilio account."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        account = f"twilio:account_sid={TWILIO_SID},auth_token={TWILIO_TOKEN}"
        argv = [str(BIN / "callwright"), "sim", "serve", "--port", str(self.port)]
        argv += ["--account", account, "--log-level", "warning", "--max-calls", "5000"]
        self.child = Child("sim", argv)
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=60)

    async def start(self) -> None:
        await self.child.start()
        await self.child.wait_http(self.base_url + "/_sim/scenarios")

    async def stop(self) -> None:
        await self.http.aclose()
        await self.child.stop()

    @property
    def twilio_api_url(self) -> str:
        return self.base_url + "/twilio/2010-04-01"

    async def set_scenario(self, number: str, scenario: Scenario) -> None:
        body = scenario.model_dump(mode="json")
        (await self.http.put(f"/_sim/scenarios/{number}", json=body)).raise_for_status()

    async def clear_calls(self) -> None:
        (await self.http.delete("/_sim/calls")).raise_for_status()

    async def calls(self, to: str) -> list[dict[str, Any]]:
        response = await self.http.get("/_sim/calls", params={"to": to})
        response.raise_for_status()
        return response.json()

    async def wait_for_calls(self, to: str, count: int, timeout: float) -> list[dict[str, Any]]:
        """The calls to ``to`` once ``count`` of them have ended (or ``timeout`` is up)."""
        deadline = time.monotonic() + timeout
        while True:
            calls = await self.calls(to)
            if sum(call["ended"] for call in calls) >= count or time.monotonic() > deadline:
                return calls
            await asyncio.sleep(0.5)

    async def timings(self, to: str | None = None) -> list[dict[str, Any]]:
        response = await self.http.get("/_sim/timings")
        response.raise_for_status()
        key = _digits(to) if to else None
        return [t for t in response.json() if key is None or _digits(t["to"]) == key]

    async def dial_twiml(self, to: str, twiml: str) -> None:
        """Ask the simulated Twilio to place a call that runs ``twiml`` (the baseline's way in)."""
        response = await self.http.post(
            f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Calls.json",
            data={"To": to, "From": FROM_NUMBER, "Twiml": twiml},
            auth=(TWILIO_SID, TWILIO_TOKEN),
        )
        response.raise_for_status()


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


async def redis_answers(url: str) -> bool:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


class Callwright:
    """``callwright serve`` with the fake engines, its carriers pointed at the simulator."""

    def __init__(
        self,
        sim: Sim,
        *,
        var_dir: Path,
        latencies: Latencies,
        database_url: str | None = None,
        workers: int = 1,
        redis_url: str | None = None,
        name: str = "callwright",
        public_url: str | None = None,
        redis_namespace: str | None = None,
        node_name: str | None = None,
    ) -> None:
        self.name = "callwright"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            "CALLWRIGHT_VAR_DIR": str(var_dir),
            "CALLWRIGHT_SECRET_KEY": SECRET_KEY,
            "CALLWRIGHT_ADMIN_TOKEN": ADMIN_TOKEN,
            "CALLWRIGHT_PUBLIC_URL": public_url or self.base_url,
            "CALLWRIGHT_TWILIO_API_URL": sim.twilio_api_url,
            "CALLWRIGHT_LOG_LEVEL": "warning",
            "CALLWRIGHT_FAKE_ENGINES": "1",
            "CALLWRIGHT_FAKE_STT_LATENCY_MS": str(latencies.stt_ms),
            "CALLWRIGHT_FAKE_LLM_LATENCY_MS": str(latencies.llm_ms),
            "CALLWRIGHT_FAKE_TTS_LATENCY_MS": str(latencies.tts_ms),
        }
        if database_url:
            env["CALLWRIGHT_DATABASE_URL"] = database_url
        if workers > 1 or redis_url:
            # The workers (or nodes) reach each other's calls and elect the dialer through Redis;
            # a namespace per run keeps a restart from meeting the previous run's lease.
            env["CALLWRIGHT_REDIS_URL"] = redis_url or DEFAULT_REDIS_URL
            env["CALLWRIGHT_REDIS_NAMESPACE"] = redis_namespace or f"bench-{uuid.uuid4().hex[:10]}"
        if node_name:
            env["CALLWRIGHT_NODE_NAME"] = node_name
        argv = [str(BIN / "callwright"), "serve", "--port", str(self.port)]
        argv += ["--workers", str(workers)]
        self.child = Child(name, argv, env=env)
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=60)
        self.api_key: str | None = None
        self.agent_id: str | None = None

    async def start(self) -> None:
        await self.child.start()
        await self.child.wait_http(self.base_url + "/healthz", timeout=120)

    async def stop(self) -> None:
        await self.http.aclose()
        await self.child.stop()

    def pids(self) -> list[int]:
        return self.child.pids()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def set_up_partner(self, *, cps: float) -> None:
        """The benchmark's partner (once per store), its Twilio account and its agent."""
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        created = await self.http.post(
            "/admin/v1/partners",
            json={
                "name": "bench",
                "allowed_telephony_providers": ["twilio"],
                "concurrency_limit": 10000,
                # The load steps start hundreds of calls a second through one key.
                "requests_per_minute": 0,
                "calls_per_minute": 0,
            },
            headers=admin,
        )
        created.raise_for_status()
        self.api_key = created.json()["data"]["api_key"]
        body = {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from_number": FROM_NUMBER}
        configured = await self.http.put(
            "/api/v2/config/telephony/twilio", json=body, headers=self.headers
        )
        configured.raise_for_status()
        await self.set_cps(cps)
        agent = await self.http.post(
            "/api/v2/agent",
            json={
                "agent_name": "Bench agent",
                "intro_message": INTRO,
                "voice_id": "fake-tone",
                "stt": {"provider": "fake"},
                "llm": {"provider": "fake"},
            },
            headers=self.headers,
        )
        agent.raise_for_status()
        self.agent_id = agent.json()["data"]["id"]

    def adopt_partner(self, other: Callwright) -> None:
        """Use the partner ``other`` set up on the same store (a restart)."""
        self.api_key, self.agent_id = other.api_key, other.agent_id

    async def set_cps(self, cps: float | None) -> None:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        response = await self.http.patch(
            "/admin/v1/partners/bench/connections/twilio", json={"cps": cps}, headers=admin
        )
        response.raise_for_status()

    async def place(self, number: str) -> None:
        response = await self.http.post(
            "/api/v2/calls/start",
            json={"agent_id": self.agent_id, "to_number": number, "provider": "twilio"},
            headers=self.headers,
        )
        response.raise_for_status()
