"""What every carrier's number API gives: the numbers it lists and a way to route one to us."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import httpx

from callwright.carriers.base import Account, CarrierEndpoints, CarrierRejected

MAX_PAGES = 50


@dataclass(frozen=True, slots=True)
class CarrierNumber:
    phone_number: str  # E.164
    carrier_ref: str  # the carrier's handle for it (sid, id or the number itself)
    friendly_name: str | None
    route: str | None  # what inbound calls reach today: a voice URL or an application id


@dataclass(frozen=True, slots=True)
class Binding:
    """What binding left on the carrier: ``bound_route`` ours, ``previous`` to restore."""

    bound_route: str
    previous: str | None


class NumberApi(Protocol):
    # Whether the carrier's API can point a number's inbound calls at a URL.
    can_route: ClassVar[bool]

    async def list_numbers(
        self, account: Account, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> list[CarrierNumber]: ...

    async def point_at(
        self,
        number: CarrierNumber,
        url: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> Binding: ...

    async def restore(
        self,
        number: CarrierNumber,
        binding: Binding,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None: ...


def e164(raw: str) -> str:
    # Plivo lists numbers without the "+" ("14155550100"); the others list E.164.
    raw = raw.strip()
    return raw if raw.startswith("+") else f"+{raw}"


def listed_items(page: Mapping[str, Any], key: str, carrier: str) -> list[Mapping[str, Any]]:
    listed = page.get(key)
    if not isinstance(listed, list):
        raise CarrierRejected(f"{carrier} answered the number list without its {key}")
    return [item for item in listed if isinstance(item, Mapping)]


def last_segment(uri: str) -> str | None:
    parts = [part for part in uri.split("/") if part]
    return parts[-1] if parts else None
