"""Calls placed *to* a platform's numbers: the simulator's caller rings an account's number and the
carrier runs what the number routes to, with the carrier's real inbound request and signature.

- Twilio: the number's ``VoiceUrl`` gets the Url webhook's fields with ``Direction=inbound`` and
  ``CallStatus=ringing``, signed X-Twilio-Signature; the TwiML runs as on an outbound call (§3.10).
- Plivo, Vobiz: the linked application's ``answer_url`` gets ``CallUUID``, ``From``, ``To``,
  ``Direction=inbound``, ``Event=StartApp``, signed as their callbacks are (§1.10, §2.10).
- Exotel: the ExoPhone's flow runs its Voicebot applet, whose dynamic URL is asked (GET, unsigned)
  for the stream URL with ``CallSid``, ``CallFrom``, ``CallTo``, ``Direction=incoming`` (§4.10).

Then the media stream runs as on an outbound call, the caller playing the scenario set for its own
number (``CarrierSimulator.set_scenario(caller, …)``).
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING, Any

from callwright.domain.providers import Provider
from callwright.sim.calls import SimCall
from callwright.sim.farend.exotel import ExotelDial, ExotelFarEnd
from callwright.sim.farend.plivo import PlivoDial, PlivoFarEnd
from callwright.sim.farend.twilio import TwilioDial, TwilioFarEnd
from callwright.sim.farend.vobiz import VobizFarEnd

if TYPE_CHECKING:
    from callwright.sim.farend.base import FarEnd
    from callwright.sim.state import SimAccount
    from callwright.sim.switchboard import Switchboard


class NotRouted(LookupError):
    """The number is not the account's, or routes nowhere: the carrier would not reach anyone."""


def place_inbound_call(board: Switchboard, provider: Provider, account_id: str, *, to: str, from_: str) -> SimCall:
    """Ring ``to`` (one of the account's numbers) from ``from_``, on the switchboard's loop."""
    state = board.state
    account = state.account(provider, account_id)
    if account is None:
        raise NotRouted(f"the simulator has no {provider.value} account {account_id!r}")
    call_id, far_end = _far_end(board, provider, account, to=to, from_=from_)
    call = SimCall(
        carrier=provider.value,
        call_id=call_id,
        account_id=account.account_id,
        to=to,
        from_=from_,
        dial={"inbound": True, "to": to, "from": from_},
        scenario=state.scenarios.for_number(from_),
        direction="inbound",
    )
    state.calls.add(call)
    played = far_end(call=call, account=account, switchboard=board)
    call.far_end = played
    board.start(played)
    return call


def _far_end(
    board: Switchboard, provider: Provider, account: SimAccount, *, to: str, from_: str
) -> tuple[str, Any]:
    numbers = board.state.numbers
    if provider is Provider.TWILIO:
        url = numbers.inbound_url(provider, account.account_id, to)
        if not url:
            raise NotRouted(f"Twilio number {to} has no VoiceUrl")
        dial = TwilioDial(To=to, From=from_, Url=url, Method="POST")
        return "CA" + secrets.token_hex(16), lambda **kw: TwilioFarEnd(dial=dial, inbound=True, **kw)
    if provider in (Provider.PLIVO, Provider.VOBIZ):
        url = numbers.inbound_url(provider, account.account_id, to)
        if not url:
            raise NotRouted(f"{provider.display_name} number {to} is linked to no application")
        dial_fields = {"from": from_, "to": to, "answer_url": url, "answer_method": "POST"}
        plivo_dial = PlivoDial.model_validate(dial_fields)
        call_uuid = str(uuid.uuid4())
        cls: type[PlivoFarEnd] = PlivoFarEnd if provider is Provider.PLIVO else VobizFarEnd

        def plivo_far_end(**kw: Any) -> FarEnd:
            return cls(dial=plivo_dial, request_uuid=call_uuid, call_uuid=call_uuid, inbound=True, **kw)

        return call_uuid, plivo_far_end
    if provider is Provider.EXOTEL:
        applet_url = numbers.flow(account.account_id, to)
        if not applet_url:
            raise NotRouted(f"ExoPhone {to} has no flow with a Voicebot applet")
        exotel_dial = ExotelDial.model_validate({"from": from_, "callerid": to})

        def exotel_far_end(**kw: Any) -> FarEnd:
            return ExotelFarEnd(dial=exotel_dial, applet_url=applet_url, **kw)

        return uuid.uuid4().hex, exotel_far_end
    raise NotRouted(f"the simulator takes no inbound {provider.display_name} calls")
