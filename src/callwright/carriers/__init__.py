"""Carrier adapters, one module per carrier, looked up by provider name in ``CARRIERS``."""

from __future__ import annotations

from callwright.carriers.base import Carrier, CarrierEndpoints
from callwright.carriers.exotel import Exotel
from callwright.carriers.mcube import MCube
from callwright.carriers.plivo import Plivo
from callwright.carriers.twilio import Twilio
from callwright.carriers.vobiz import Vobiz
from callwright.domain.providers import Provider

CARRIERS: dict[Provider, Carrier] = {
    carrier.provider: carrier for carrier in (Twilio(), Plivo(), Vobiz(), Exotel(), MCube())
}


def get_carrier(provider: Provider) -> Carrier:
    return CARRIERS[provider]


def endpoints_from_settings(settings) -> CarrierEndpoints:
    return CarrierEndpoints(
        vobiz=settings.vobiz_api_url.rstrip("/"),
        plivo=settings.plivo_api_url.rstrip("/"),
        twilio=settings.twilio_api_url.rstrip("/"),
        exotel=settings.exotel_api_url.rstrip("/") if settings.exotel_api_url else None,
        mcube=settings.mcube_api_url.rstrip("/"),
        timeout_secs=settings.carrier_timeout_secs,
    )


__all__ = ["CARRIERS", "Carrier", "CarrierEndpoints", "endpoints_from_settings", "get_carrier"]
