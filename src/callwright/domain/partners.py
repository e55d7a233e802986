"""Rules for partners (tenants) as the operator manages them."""

from __future__ import annotations

import re

from callwright.domain.errors import ValidationFailed
from callwright.domain.providers import Provider, parse_provider

PARTNER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
PARTNER_STATUSES = ("active", "suspended")


def check_partner_name(name: str) -> str:
    if not PARTNER_NAME.fullmatch(name):
        raise ValidationFailed(
            "name",
            "name must be a slug of 1–64 lowercase letters, digits and '-', like acme-corp",
        )
    return name


def parse_provider_list(values: list[str] | str) -> list[Provider]:
    """``"twilio,vobiz"`` or ``["twilio", "vobiz"]`` → providers, de-duplicated, in given order."""
    items = values.split(",") if isinstance(values, str) else values
    providers: list[Provider] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        provider = parse_provider(item)
        if provider is None:
            raise ValidationFailed(
                "providers",
                f"providers has unknown provider {item!r}; known: "
                + ", ".join(p.value for p in Provider),
            )
        if provider not in providers:
            providers.append(provider)
    return providers


def check_limit(field: str, value: int, *, maximum: int) -> int:
    if not 0 <= value <= maximum:
        raise ValidationFailed(field, f"{field} must be between 0 and {maximum}")
    return value
