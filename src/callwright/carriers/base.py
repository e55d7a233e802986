"""The one small interface every carrier module implements, and the shapes it trades in.

A carrier module (``twilio.py``, ``plivo.py``, ``vobiz.py``, ``exotel.py``, ``mcube.py``) knows its
carrier's wire contract (shared spec: carriers.md) and nothing about our store or HTTP routes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from callwright.carriers._wire import carrier_error_text, retry_after_secs, secrets_in
from callwright.domain.calls import CallEvent, EventKind
from callwright.domain.errors import CallwrightError
from callwright.domain.masking import CONFIGURED_PLACEHOLDER, mask_identifier
from callwright.domain.providers import Provider
from callwright.domain.text import check_line
from callwright.domain.transfers import DialResult


class CarrierAuthFailed(CallwrightError):
    """The carrier answered 401/403 to the partner's credentials."""

    status_code = 400
    code = "carrier_auth_failed"


class CarrierUnavailable(CallwrightError):
    """The carrier could not be reached, timed out, or answered 5xx/429.

    ``retryable`` is True only when the carrier certainly did not act on the request (the
    connection was never made, or the carrier said 429/503): the dialer retries only those.
    ``retry_after`` is the carrier's own hint, in seconds, when it gave one.
    """

    status_code = 502
    code = "carrier_unavailable"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        # The carrier gave no answer at all (timed out, dropped the connection) or accepted without
        # naming the call: it may have acted. A dial in this state is neither retried nor failed.
        self.outcome_unknown = outcome_unknown


class NotSupported(CallwrightError):
    """The carrier has no such capability (e.g. MCube's media leg, Exotel's REST hang-up)."""

    status_code = 400
    code = "not_supported_by_carrier"


class CarrierRejected(CallwrightError):
    """The carrier answered with another 4xx: it understood and refused.

    ``carrier_reason`` is the carrier's own sentence from the refusal, when it gave one.
    """

    status_code = 502
    code = "carrier_rejected"

    def __init__(self, message: str, *, carrier_reason: str | None = None) -> None:
        super().__init__(message)
        self.carrier_reason = carrier_reason


if TYPE_CHECKING:
    from pipecat.serializers.base_serializer import FrameSerializer


class CarrierCredentials(BaseModel):
    """The body of ``PUT /config/telephony/{provider}``; subclasses declare fields and rules.

    ``identifier_fields`` are stored in the clear (shown masked or as a placeholder);
    ``secret_fields`` are sealed at rest and never shown; ``masked_fields`` are the identifiers the
    PUT response masks (first 4 + ``****`` + last 4); ``placeholder_fields`` the ones it shows only
    as ``conf****ured``, as the carrier's docs page does.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    secret_fields: ClassVar[tuple[str, ...]] = ()
    masked_fields: ClassVar[tuple[str, ...]] = ()
    placeholder_fields: ClassVar[tuple[str, ...]] = ()

    @field_validator("*")
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        # Every identifier and secret is one line: a control character (a NUL reaches the JSON
        # column, where PostgreSQL refuses it, and the carrier's auth headers) is a typo.
        return check_line(value) if isinstance(value, str) else value

    def identifiers(self) -> dict[str, Any]:
        return self.model_dump(exclude=set(self.secret_fields))

    def secrets(self) -> dict[str, Any]:
        return self.model_dump(include=set(self.secret_fields))

    def public_view(self) -> dict[str, Any]:
        """What the PUT response shows: identifiers, masked where the contract says so."""
        view = {}
        for key, value in self.identifiers().items():
            if key in self.placeholder_fields and value:
                value = CONFIGURED_PLACEHOLDER
            elif key in self.masked_fields and value:
                value = mask_identifier(value)
            view[key] = value
        return view


@dataclass(frozen=True, slots=True)
class Account:
    """A partner's opened carrier account: stored identifiers plus decrypted secrets."""

    identifiers: Mapping[str, Any]
    secrets: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class DialRequest:
    """Everything a carrier needs to place one outbound call for us."""

    call_id: str
    to_number: str  # E.164
    from_number: str  # the connection's number (Exotel: caller_id; MCube: exe_number)
    answer_url: str  # carrier fetches the answer document here (carries the per-call token)
    status_url: str  # ring/answer/hangup status callbacks
    stream_url: str  # our media WebSocket, for carriers that take it in the dial request (Exotel)
    machine_detection_url: str | None = None  # set only when carrier-side AMD is requested
    time_limit_secs: int | None = None
    ring_timeout_secs: int = 45


@dataclass(frozen=True, slots=True)
class PlacedCall:
    provider_call_id: str
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CarrierCallState:
    """What the carrier's call-status API says about one call now.

    ``events`` are the carrier's view in our words (the same as its callbacks would give), with
    ``ENDED`` last when the call is over; ``live`` is True while it is still queued, ringing or
    connected at the carrier.
    """

    events: tuple[CallEvent, ...]
    raw: Mapping[str, Any]

    @property
    def live(self) -> bool:
        return not any(event.kind is EventKind.ENDED for event in self.events)


@dataclass(frozen=True, slots=True)
class AnswerDocument:
    media_type: str  # "application/xml", "text/xml" or "application/json"
    body: str


class CallbackKind(StrEnum):
    ANSWER = "answer"  # the carrier asks what to do with the answered call
    STATUS = "status"  # ringing / answered / hangup (terminal) reports
    MACHINE = "machine"  # asynchronous answering-machine detection result
    TRANSFER = "transfer"  # the carrier fetches the document that dials the human (Plivo's aleg_url)
    DIAL = "dial"  # the carrier reports how the dial to the human went (a <Dial> action URL)
    # A warm transfer's consult leg (the call to the human): its answer URL (the summary), its
    # status/hang-up callbacks, and its <Redirect> once the summary was said (the bridge).
    CONSULT = "consult"
    CONSULT_STATUS = "consult-status"
    BRIDGE = "bridge"


@dataclass(frozen=True, slots=True)
class CallbackProof:
    """What a valid carrier signature on a callback proves beyond where it came from."""

    # The signature nonces it spends: a second request with any of them is a replay.
    nonces: tuple[str, ...] = ()
    # When the carrier says it sent the callback, where the signature covers a time (Twilio's
    # status callbacks sign their Timestamp field).
    signed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundCall:
    """A carrier's request to connect a call someone placed to one of the partner's numbers."""

    provider_call_id: str  # the carrier's id for the call (CallSid, CallUUID)
    caller: str  # who is calling, as the carrier wrote it (E.164 where it could be made so)
    called: str  # the partner's number that was dialled, as the carrier wrote it


@dataclass(frozen=True, slots=True)
class MediaStart:
    """What a carrier's media ``start`` message tells us about the stream."""

    stream_id: str
    provider_call_id: str
    custom_parameters: Mapping[str, str]
    encoding: str  # e.g. "audio/x-mulaw", "audio/x-l16", "audio/x-raw"
    sample_rate: int


@dataclass(frozen=True, slots=True)
class CarrierEndpoints:
    """Base URLs of each carrier's REST API (the real carriers by default; the simulator in tests)."""

    vobiz: str
    plivo: str
    twilio: str
    exotel: str | None
    mcube: str
    timeout_secs: float = 10.0


class Carrier(ABC):
    provider: ClassVar[Provider]
    credentials_model: ClassVar[type[CarrierCredentials]]
    # False where the carrier documents no cheap authenticated read (MCube).
    verifies_credentials: ClassVar[bool] = True
    # The connection field whose number callers see (Exotel: caller_id; MCube: exe_number).
    caller_id_field: ClassVar[str] = "from_number"
    # Whether the carrier offers asynchronous answering-machine detection on outbound calls.
    supports_machine_detection: ClassVar[bool] = False
    # Calls per second an account may start when the operator sets none (the carrier's default).
    default_cps: ClassVar[float] = 1.0
    # Whether the call's audio reaches us over a media WebSocket (not MCube's click-to-call).
    has_media_stream: ClassVar[bool] = True
    # Fixed size of each outbound media payload, where the carrier demands one (Exotel).
    media_packet_bytes: ClassVar[int | None] = None
    # Whether ``fetch_call_state`` can ask the carrier about a call (not MCube: no status API).
    offers_call_status: ClassVar[bool] = False
    # Whether the id a dial request returns is the call's own (Twilio's CallSid, Vobiz's
    # request_uuid, which Vobiz says equals the CallUUID, Exotel's Sid). False where it is
    # provisional and the callbacks bring the call's id (Plivo's request_uuid; MCube).
    dial_id_is_call_id: ClassVar[bool] = True
    # Whether the carrier requests the answer URL again when a request fails (Plivo and Vobiz,
    # up to 3 times before their fallback URL). Twilio does so only with a #rc= override, which we
    # never set; Exotel goes to its fallback URL instead.
    retries_answer_url: ClassVar[bool] = False
    # Whether our callback token travels in the callback URL's path rather than its query (MCube:
    # whether it keeps a refurl's query string is not known).
    callback_token_in_path: ClassVar[bool] = False
    # Whether our media token travels in the stream's start message rather than its URL (Twilio
    # drops query strings from stream URLs, and signs the WebSocket upgrade instead).
    media_token_in_start: ClassVar[bool] = False

    # Whether a live call can be handed to a human through the carrier's API (``transfer``), and
    # where not, why (named in the 409 a partner gets).
    supports_transfer: ClassVar[bool] = False
    transfer_refusal: ClassVar[str] = "offers no way to transfer a live call"
    # Whether the agent can press keys on the line mid-stream (``send_dtmf``).
    supports_send_dtmf: ClassVar[bool] = False
    # Whether calls to the partner's numbers on this carrier reach an agent (``parse_inbound``).
    takes_inbound_calls: ClassVar[bool] = False
    # Whether a warm transfer (consult leg, summary, conference) is built for this carrier.
    supports_warm_transfer: ClassVar[bool] = False

    @property
    def display_name(self) -> str:
        return self.provider.display_name

    @abstractmethod
    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        """Prove the credentials with the carrier's own API, or raise a ``Carrier*`` error."""

    # --- the call path -------------------------------------------------------------------

    async def place_call(
        self,
        dial: DialRequest,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> PlacedCall:
        """Ask the carrier to dial. Raises ``CarrierUnavailable`` (``retryable`` set only when the
        carrier certainly did not act on the request), ``CarrierRejected`` or ``CarrierAuthFailed``."""
        raise NotSupported(f"{self.display_name} cannot place calls")

    async def hangup(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        """End a live (or ringing) call. A call the carrier says is already gone is not an error."""
        raise NotSupported(f"{self.display_name} cannot hang up calls over REST")

    async def fetch_call_state(
        self,
        provider_call_id: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
        at: datetime,
    ) -> CarrierCallState | None:
        """Ask the carrier's call-status API about a call; None when the carrier has no such call.

        ``at`` is when we asked: the time of the events when the carrier names none. Carriers
        without a status API (MCube) raise ``NotSupported``."""
        raise NotSupported(f"{self.display_name} offers no call-status API")

    async def transfer(
        self,
        provider_call_id: str,
        account: Account,
        *,
        to: str,
        caller_id: str,
        document_url: str,
        action_url: str,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        """Take the live call off its media stream and dial ``to`` (cold transfer). The carrier
        reports the dial at ``action_url``; carriers that fetch the dial document themselves
        (Plivo, Vobiz) get it at ``document_url`` (``transfer_document``)."""
        raise NotSupported(f"{self.display_name} {self.transfer_refusal}")

    def transfer_document(self, *, to: str, caller_id: str, action_url: str) -> AnswerDocument:
        """The document that dials the human and reports the outcome at ``action_url``."""
        raise NotSupported(f"{self.display_name} {self.transfer_refusal}")

    def parse_dial_result(self, params: Mapping[str, str]) -> DialResult | None:
        """The carrier's report of the dial to the human; None if the request is not one."""
        return None

    # --- warm transfer: the consult leg is placed with ``place_call`` ---------------------------

    async def redirect(
        self,
        provider_call_id: str,
        account: Account,
        *,
        url: str,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        """Have the live call leave what it runs (its media stream) and run the document at
        ``url`` (a warm transfer moves the caller into the conference this way)."""
        raise NotSupported(f"{self.display_name} cannot move a live call to another document")

    def summary_document(self, *, summary: str, bridge_url: str) -> AnswerDocument:
        """The consult leg's answer: say ``summary`` to the human, then request ``bridge_url``."""
        raise NotSupported(f"{self.display_name} has no warm transfer")

    def conference_document(self, *, room: str) -> AnswerDocument:
        """Join the conference ``room``, which ends when this leg leaves."""
        raise NotSupported(f"{self.display_name} has no warm transfer")

    def goodbye_document(self, *, message: str) -> AnswerDocument:
        """Say ``message`` and hang up."""
        raise NotSupported(f"{self.display_name} has no warm transfer")

    def callback_call_ids(self, params: Mapping[str, str]) -> set[str]:
        """Every id by which a callback names its call (Plivo's CallUUID and RequestUUID)."""
        named = self.callback_call_id(params)
        return {named} if named else set()

    def after_dial_document(self, result: DialResult, *, message: str) -> AnswerDocument:
        """What the carrier does once the dial is over: hang up after a bridged call, or say
        ``message`` first when the human was not reached (no dead air)."""
        raise NotSupported(f"{self.display_name} {self.transfer_refusal}")

    async def send_dtmf(
        self,
        provider_call_id: str,
        digits: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        """Press ``digits`` on the line (to navigate an IVR) without interrupting the stream."""
        raise NotSupported(f"{self.display_name} cannot send key presses during a media stream")

    def answer_document(self, *, stream_url: str, parameters: Mapping[str, str]) -> AnswerDocument:
        """What the carrier's answer request gets back: the document that opens the media stream.

        ``stream_url`` is our ``ws(s)://…/media/{provider}/{call_id}`` URL (without the token);
        ``parameters`` (call_id, token) travel where the carrier is documented to keep them:
        Twilio's ``<Parameter>``s, Exotel's query, a path segment for Plivo and Vobiz, which promise
        nothing about a stream URL's query string (``/media/{provider}/{call_id}/{token}``).
        """
        raise NotSupported(f"{self.display_name} has no answer document")

    def parse_callback(
        self, kind: CallbackKind, params: Mapping[str, str], *, received_at: datetime
    ) -> list[CallEvent]:
        """A carrier callback (form or JSON fields) → domain events, in the order they happened."""
        raise NotSupported(f"{self.display_name} sends no callbacks")

    def parse_inbound(self, params: Mapping[str, str]) -> InboundCall | None:
        """The carrier's request for an inbound call's answer → who calls which number; None when
        the request is not one for an inbound call (another direction, or fields missing)."""
        return None

    def refusal_document(self, message: str) -> AnswerDocument | None:
        """What refuses an inbound call: ``message`` spoken, then a hang-up. None where the carrier's
        answer cannot speak (Exotel's Voicebot applet takes only a stream URL)."""
        return None

    def callback_call_id(self, params: Mapping[str, str]) -> str | None:
        """The carrier's id of the call a callback is about (its CallSid, CallUUID, callid…)."""
        return None

    # Carriers that sign their callbacks override this; the others rely on the per-call token.
    signs_callbacks: ClassVar[bool] = False

    def validate_signature(
        self,
        *,
        method: str,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        account: Account,
    ) -> bool:
        """True when the request carries the carrier's valid signature for ``url`` + ``params``."""
        proof = self.verify_callback(method=method, url=url, params=params, headers=headers, account=account)
        return proof is not None

    def verify_callback(
        self,
        *,
        method: str,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        account: Account,
    ) -> CallbackProof | None:
        """The callback's signature checked: None when it is missing or invalid, else what it
        proves (the nonces it spends, the time it was signed at). Carriers that sign override
        this (or, like Twilio, both methods); the others' callbacks carry no signature."""
        return None

    def verify_media_upgrade(self, *, url: str, headers: Mapping[str, str], account: Account) -> bool:
        """Whether the media socket's upgrade request carries the carrier's signature, where it
        signs one (Twilio); carriers that sign nothing rely on the token in the stream URL."""
        return True

    def message_window_open(self, params: Mapping[str, str]) -> bool:
        """Whether a machine-detection result says the greeting is over and a message may be left
        now (Twilio's ``machine_end_beep``). Carriers that cannot tell say False: hang up."""
        return False

    def parse_media_start(self, message: Mapping[str, Any]) -> MediaStart | None:
        """The stream's identity from the carrier's ``start`` message; None for any other message."""
        raise NotSupported(f"{self.display_name} has no media stream")

    def media_serializer(self, start: MediaStart, account: Account) -> FrameSerializer:
        """Pipecat's frame serializer for this carrier's media WebSocket protocol."""
        raise NotSupported(f"{self.display_name} has no media stream")

    def auth_failed_message(self) -> str:
        return f"{self.display_name} rejected the credentials"

    async def request(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        timeout: float,
        dialing: bool = False,
        accept: tuple[int, ...] = (),
        auth_statuses: tuple[int, ...] = (401, 403),
        **kwargs: Any,
    ) -> httpx.Response:
        """One REST request, with carrier failures turned into our errors (no secrets in them).

        ``retryable`` is set only when the carrier certainly did not act: the connection was never
        made, or it answered 503 (or 429 to a dial request, ``dialing=True``: the dialer paces and
        retries; elsewhere a 429 is a refusal). A read timeout or another 5xx may hide a placed
        call, so those are not retryable. ``accept`` lists statuses handed back instead of raised
        (a hang-up's 404); ``auth_statuses`` those that mean the credentials were refused.
        """
        name = self.display_name
        try:
            response = await http.request(method, url, timeout=timeout, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            raise CarrierUnavailable(f"{name} could not be reached", retryable=True) from None
        except httpx.TimeoutException:
            raise CarrierUnavailable(f"{name} did not answer in time", outcome_unknown=True) from None
        except httpx.HTTPError:
            raise CarrierUnavailable(
                f"{name} dropped the connection before answering", outcome_unknown=True
            ) from None
        status = response.status_code
        if status < 400 or status in accept:
            return response
        if status in auth_statuses:
            raise CarrierAuthFailed(self.auth_failed_message())
        detail = carrier_error_text(response, secrets_in(kwargs))
        said = f": {detail}" if detail else ""
        if status == 503 or (status == 429 and dialing):
            raise CarrierUnavailable(
                f"{name} answered HTTP {status}; try again later{said}",
                retryable=True,
                retry_after=retry_after_secs(response),
            )
        if status >= 500:
            raise CarrierUnavailable(f"{name} answered HTTP {status}; try again later{said}")
        raise CarrierRejected(
            f"{name} refused the request with HTTP {status}{said}", carrier_reason=detail
        )
