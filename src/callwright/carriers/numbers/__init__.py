"""Carriers' number APIs: list an account's numbers, point one at our inbound URL and back.

One module per carrier behind ``NumberApi`` (``base``); ``NUMBER_APIS`` maps the provider to it. A
carrier missing from the map (MCube) has no number API: its numbers are added by the operator.
"""

from __future__ import annotations

from callwright.carriers.numbers.base import Binding, CarrierNumber, NumberApi
from callwright.carriers.numbers.exotel import ExotelNumbers
from callwright.carriers.numbers.plivo import PlivoNumbers
from callwright.carriers.numbers.twilio import TwilioNumbers
from callwright.carriers.numbers.vobiz import VobizNumbers
from callwright.domain.providers import Provider

NUMBER_APIS: dict[Provider, NumberApi] = {
    Provider.TWILIO: TwilioNumbers(),
    Provider.PLIVO: PlivoNumbers(),
    Provider.VOBIZ: VobizNumbers(),
    Provider.EXOTEL: ExotelNumbers(),
}

__all__ = ["NUMBER_APIS", "Binding", "CarrierNumber", "NumberApi"]
