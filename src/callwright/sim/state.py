"""What the carrier simulator knows: the accounts it accepts, the faults it injects, what it saw,
the scenario each destination plays (``scenarios``) and the calls it placed (``calls``).

One ``SimState`` is shared by the simulator's server thread and the thread driving it (a test, the
demo, a benchmark), so every read and write goes through a lock (the books have their own).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, model_validator

from callwright.domain.providers import Provider
from callwright.sim.calls import CallBook
from callwright.sim.conference import Timeline
from callwright.sim.numbers import NumberBook
from callwright.sim.scenarios import ScenarioBook

REQUEST_LOG_SIZE = 1000


class SimAccount(BaseModel):
    """An account the simulator accepts; each subclass holds one carrier's credential fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    secret_fields: ClassVar[tuple[str, ...]] = ()

    provider: str

    @property
    def account_id(self) -> str:
        """What the carrier names the account by (in a path or header); the state's lookup key."""
        raise NotImplementedError

    def public_view(self) -> dict[str, Any]:
        return self.model_dump(exclude=set(self.secret_fields))


class VobizAccount(SimAccount):
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)

    provider: Literal["vobiz"] = "vobiz"
    auth_id: str = Field(min_length=1)
    auth_token: str = Field(min_length=1, repr=False)

    @property
    def account_id(self) -> str:
        return self.auth_id


class PlivoAccount(SimAccount):
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)

    provider: Literal["plivo"] = "plivo"
    auth_id: str = Field(min_length=1)
    auth_token: str = Field(min_length=1, repr=False)

    @property
    def account_id(self) -> str:
        return self.auth_id


class TwilioAccount(SimAccount):
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)

    provider: Literal["twilio"] = "twilio"
    account_sid: str = Field(min_length=1)
    auth_token: str = Field(min_length=1, repr=False)

    @property
    def account_id(self) -> str:
        return self.account_sid


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class ExotelAccount(SimAccount):
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key", "api_token")

    provider: Literal["exotel"] = "exotel"
    account_sid: str = Field(min_length=1)
    api_key: str = Field(min_length=1, repr=False)
    api_token: str = Field(min_length=1, repr=False)
    # The account's ExoPhones (caller IDs), as the credential check lists them.
    exophones: Annotated[list[str], BeforeValidator(_one_or_many)] = Field(
        default_factory=lambda: ["+918047361234"], min_length=1
    )
    # How this account's AgentStream start message spells its keys: the protocol page's
    # snake_case, or the camelCase Exotel's own reference code also reads (streamSid, callSid).
    start_keys: Literal["snake_case", "camelCase"] = "snake_case"
    # What the account streams: 16-bit PCM (the protocol page) or µ-law (the beta extension guide).
    stream_encoding: Literal["pcm16", "mulaw"] = "pcm16"
    # Exotel's beta answering-machine detection, enabled per account on request: callbacks then
    # carry Legs[].AnsweredBy (HUMAN / MACHINE).
    amd: bool = False

    @property
    def account_id(self) -> str:
        return self.account_sid


class MCubeAccount(SimAccount):
    secret_fields: ClassVar[tuple[str, ...]] = ("jwt_token",)

    provider: Literal["mcube"] = "mcube"
    jwt_token: str = Field(min_length=1, repr=False)
    # MCube's wire is undocumented (carriers.md §5); each field plays one of the shapes seen in
    # third-party integrations, so a test can hold the adapter to all of them.
    # The call-release API's "Business Token", when it is not the click-to-call JWT.
    business_token: str | None = Field(default=None, min_length=1, repr=False)
    # The click-to-call answer: {"status": "success", "msg", "callid"} or {"success": true,
    # "status": "initiated", "message", "callId"}.
    answer_shape: Literal["status", "success"] = "status"
    # The webhook's answeredtime: the answer's timestamp, or the talk time in seconds.
    answeredtime: Literal["timestamp", "seconds"] = "timestamp"
    # Whether MCube keeps the refurl's query string when it posts the webhook.
    keeps_refurl_query: bool = True

    @property
    def account_id(self) -> str:
        # MCube names no account: the token is the whole identity.
        return self.jwt_token


AnySimAccount = Annotated[
    VobizAccount | PlivoAccount | TwilioAccount | ExotelAccount | MCubeAccount,
    Field(discriminator="provider"),
]
_ACCOUNT_ADAPTER: TypeAdapter[SimAccount] = TypeAdapter(AnySimAccount)


def parse_account(provider: str, fields: dict[str, Any]) -> SimAccount:
    """``provider``'s account from its credential fields; raises pydantic's ValidationError."""
    return _ACCOUNT_ADAPTER.validate_python({**fields, "provider": provider})


class Fault(BaseModel):
    """How to misbehave: wait ``delay_secs``, then answer ``status`` (or the real answer if unset).

    It applies to the provider's next ``count`` requests, or to all of them until cleared when
    ``count`` is None. With ``act_first`` the carrier acts on the request at once (places the
    call, hangs up…) and only its answer is late or replaced by ``status``: what a client that
    timed out cannot tell from a request that never arrived. ``retry_after_secs`` adds a
    ``Retry-After`` header to a ``status`` answer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int | None = Field(default=None, ge=400, le=599)
    delay_secs: float = Field(default=0.0, ge=0.0, le=600.0)
    count: int | None = Field(default=1, ge=1)
    act_first: bool = False
    retry_after_secs: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _does_something(self) -> Fault:
        if self.status is None and not self.delay_secs:
            raise ValueError("a fault needs a status, a delay_secs, or both")
        return self


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request a carrier endpoint received. Never headers or bodies: they carry secrets."""

    method: str
    path: str
    carrier: Provider
    status: int


@dataclass(slots=True)
class _ArmedFault:
    fault: Fault
    remaining: int | None


class SimState:
    def __init__(self, *, request_log_size: int = REQUEST_LOG_SIZE, max_calls: int = 500) -> None:
        self._lock = threading.Lock()
        # The calls placed through the simulator and the far end each destination plays.
        self.calls = CallBook(max_calls=max_calls)
        self.scenarios = ScenarioBook()
        # The accounts' numbers and what inbound calls to them reach (Twilio, Plivo, Vobiz).
        self.numbers = NumberBook()
        # What the carrier said on each call and its conference joins, in one order.
        self.timeline = Timeline()
        self._accounts: dict[Provider, dict[str, SimAccount]] = {p: {} for p in Provider}
        self._faults: dict[Provider, deque[_ArmedFault]] = {p: deque() for p in Provider}
        self._requests: deque[RequestRecord] = deque(maxlen=request_log_size)

    def add_account(self, account: SimAccount) -> None:
        """Accept ``account`` from now on, replacing one with the same account id."""
        provider = Provider(account.provider)
        with self._lock:
            self._accounts[provider][account.account_id] = account

    def account(self, provider: Provider, account_id: str) -> SimAccount | None:
        with self._lock:
            return self._accounts[provider].get(account_id)

    def accounts(self, provider: Provider) -> list[SimAccount]:
        with self._lock:
            return list(self._accounts[provider].values())

    def inject_fault(self, provider: Provider, fault: Fault) -> None:
        """Queue ``fault``; it takes over once the faults queued before it are used up."""
        with self._lock:
            self._faults[provider].append(_ArmedFault(fault, fault.count))

    def clear_faults(self) -> None:
        with self._lock:
            for queue in self._faults.values():
                queue.clear()

    def take_fault(self, provider: Provider) -> Fault | None:
        """The fault for the provider's request arriving now, counting it as used once."""
        with self._lock:
            queue = self._faults[provider]
            if not queue:
                return None
            armed = queue[0]
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining == 0:
                    queue.popleft()
            return armed.fault

    def record_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def requests(self, provider: Provider | None = None) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self._requests if provider is None or r.carrier == provider]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
