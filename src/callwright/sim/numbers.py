"""Number inventories the simulated carriers keep: each account's numbers, what inbound calls to
them reach (Twilio's VoiceUrl; a Plivo/Vobiz application), and those applications.

Exotel's ExoPhones stay on the account (``ExotelAccount.exophones``): the simulator lists them
and, like Exotel's API for Voicebot flows, offers nothing to route them.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from callwright.domain.providers import Provider


@dataclass(slots=True)
class SimNumber:
    phone_number: str  # E.164
    sid: str  # Twilio's PN sid, Vobiz's number id
    voice_url: str | None = None  # Twilio
    app_id: str | None = None  # Plivo, Vobiz
    alias: str | None = None


@dataclass(slots=True)
class SimApplication:
    app_id: str
    name: str
    answer_url: str


@dataclass(slots=True)
class _Inventory:
    numbers: dict[str, SimNumber] = field(default_factory=dict)
    applications: dict[str, SimApplication] = field(default_factory=dict)
    # Exotel: the Voicebot applet URL of each ExoPhone's flow (built in Exotel's dashboard; keyed
    # by the ExoPhone's last ten digits).
    flows: dict[str, str] = field(default_factory=dict)


def _last_ten(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())[-10:]


class NumberBook:
    """Thread-safe: the server thread serves the carrier APIs, a test reads what they did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inventories: dict[tuple[Provider, str], _Inventory] = {}

    def _inventory(self, provider: Provider, account_id: str) -> _Inventory:
        return self._inventories.setdefault((provider, account_id), _Inventory())

    def add_number(
        self, provider: Provider, account_id: str, phone_number: str, *, voice_url: str | None = None,
        app_id: str | None = None,
    ) -> SimNumber:
        """Give the account ``phone_number`` (replacing it if it had it), routed as given."""
        prefix = "PN" if provider is Provider.TWILIO else ""
        number = SimNumber(phone_number=phone_number, sid=prefix + uuid.uuid4().hex, voice_url=voice_url, app_id=app_id)
        with self._lock:
            self._inventory(provider, account_id).numbers[phone_number] = number
        return number

    def add_application(self, provider: Provider, account_id: str, *, name: str, answer_url: str) -> SimApplication:
        application = SimApplication(app_id=str(uuid.uuid4().int)[:20], name=name, answer_url=answer_url)
        with self._lock:
            self._inventory(provider, account_id).applications[application.app_id] = application
        return application

    def delete_application(self, provider: Provider, account_id: str, app_id: str) -> bool:
        with self._lock:
            return self._inventory(provider, account_id).applications.pop(app_id, None) is not None

    def numbers(self, provider: Provider, account_id: str) -> list[SimNumber]:
        with self._lock:
            return list(self._inventory(provider, account_id).numbers.values())

    def find(self, provider: Provider, account_id: str, handle: str) -> SimNumber | None:
        """The number by its sid/id, its E.164 form, or its digits without the "+" (Plivo)."""
        with self._lock:
            for number in self._inventory(provider, account_id).numbers.values():
                if handle in (number.sid, number.phone_number, number.phone_number.lstrip("+")):
                    return number
            return None

    def application(self, provider: Provider, account_id: str, app_id: str) -> SimApplication | None:
        with self._lock:
            return self._inventory(provider, account_id).applications.get(app_id)

    def update(self, number: SimNumber, *, voice_url: str | None = None, app_id: str | None = None,
               set_voice_url: bool = False, set_app: bool = False) -> None:
        with self._lock:
            if set_voice_url:
                number.voice_url = voice_url
            if set_app:
                number.app_id = app_id

    def inbound_url(self, provider: Provider, account_id: str, phone_number: str) -> str | None:
        """Where an inbound call to ``phone_number`` goes now: the VoiceUrl, or the linked
        application's answer_url (None when nothing is set)."""
        number = self.find(provider, account_id, phone_number)
        if number is None:
            return None
        if provider is Provider.TWILIO:
            return number.voice_url
        application = self.application(provider, account_id, number.app_id) if number.app_id else None
        return application.answer_url if application is not None else None

    def set_flow(self, account_id: str, exophone: str, applet_url: str | None) -> None:
        """What the partner sets in Exotel's dashboard: a Voicebot applet, with ``applet_url``,
        first in the flow of ``exophone`` (None: the ExoPhone has no such flow)."""
        with self._lock:
            flows = self._inventory(Provider.EXOTEL, account_id).flows
            if applet_url is None:
                flows.pop(_last_ten(exophone), None)
            else:
                flows[_last_ten(exophone)] = applet_url

    def flow(self, account_id: str, exophone: str) -> str | None:
        with self._lock:
            return self._inventory(Provider.EXOTEL, account_id).flows.get(_last_ten(exophone))

    def line_of(self, phone_number: str) -> tuple[Provider, str] | None:
        """Which (carrier, account) routes calls to ``phone_number`` somewhere (a VoiceUrl, a
        linked application, an Exotel flow): where a call to it rings. Matched on the last ten
        digits, as an Indian number is written in several ways."""
        wanted = _last_ten(phone_number)
        with self._lock:
            inventories = list(self._inventories.items())
        for (provider, account_id), inventory in inventories:
            if provider is Provider.EXOTEL:
                if wanted in inventory.flows:
                    return provider, account_id
                continue
            for number in list(inventory.numbers.values()):
                if _last_ten(number.phone_number) == wanted and self.inbound_url(provider, account_id, number.phone_number):
                    return provider, account_id
        return None

    def clear(self) -> None:
        with self._lock:
            self._inventories.clear()
