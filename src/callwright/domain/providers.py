"""The carriers Callwright dials through, by their wire names."""

from __future__ import annotations

from enum import StrEnum


class Provider(StrEnum):
    TWILIO = "twilio"
    PLIVO = "plivo"
    VOBIZ = "vobiz"
    EXOTEL = "exotel"
    MCUBE = "mcube"

    @property
    def display_name(self) -> str:
        return _DISPLAY_NAMES[self]


_DISPLAY_NAMES = {
    Provider.TWILIO: "Twilio",
    Provider.PLIVO: "Plivo",
    Provider.VOBIZ: "Vobiz",
    Provider.EXOTEL: "Exotel",
    Provider.MCUBE: "MCube",
}

# The order GET /config lists them in (the contract's order).
ALL_PROVIDERS: tuple[Provider, ...] = (
    Provider.TWILIO,
    Provider.MCUBE,
    Provider.EXOTEL,
    Provider.PLIVO,
    Provider.VOBIZ,
)


def parse_provider(value: str) -> Provider | None:
    try:
        return Provider(value.strip().lower())
    except ValueError:
        return None
