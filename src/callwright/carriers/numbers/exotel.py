"""Exotel's ExoPhones (listed; routed only in Exotel's dashboard)."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from callwright.carriers import get_carrier
from callwright.carriers._wire import json_object, text
from callwright.carriers.base import Account, CarrierEndpoints
from callwright.carriers.exotel import api_base as exotel_api_base
from callwright.carriers.numbers.base import (
    MAX_PAGES,
    Binding,
    CarrierNumber,
    listed_items,
)
from callwright.domain.providers import Provider


class ExotelNumbers:
    """ExoPhones listed; not routable by us: an ExoPhone reaches a flow (App Bazaar) whose
    Voicebot applet holds the URL, and flows are edited in Exotel's dashboard only."""

    can_route: ClassVar[bool] = False
    carrier = get_carrier(Provider.EXOTEL)

    async def list_numbers(
        self, account: Account, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> list[CarrierNumber]:
        base = exotel_api_base(account.identifiers["subdomain"], endpoints.exotel)
        url = f"{base}/v2_beta/Accounts/{account.identifiers['account_sid']}/IncomingPhoneNumbers"
        found: list[CarrierNumber] = []
        query: dict[str, str] = {}
        for _ in range(MAX_PAGES):
            response = await self.carrier.request(
                http,
                "GET",
                url,
                params=query or None,
                auth=(account.secrets["api_key"], account.secrets["api_token"]),
                timeout=endpoints.timeout_secs,
            )
            page = json_object(response)
            listed = listed_items(page, "incoming_phone_numbers", "Exotel")
            for item in listed:
                found.append(
                    CarrierNumber(
                        phone_number=text(item, "phone_number"),
                        carrier_ref=text(item, "sid"),
                        friendly_name=text(item, "friendly_name") or None,
                        route=text(item, "voice_url") or None,
                    )
                )
            # As in the credential check: only next_page_uri's Page/PageSize are followed.
            next_page = page.get("next_page_uri")
            if not listed or not isinstance(next_page, str) or not next_page:
                break
            query = dict(parse_qsl(urlsplit(next_page).query))
        return found

    async def point_at(
        self,
        number: CarrierNumber,
        url: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> Binding:
        raise NotImplementedError("Exotel numbers are routed in the dashboard (see can_route)")

    async def restore(
        self,
        number: CarrierNumber,
        binding: Binding,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        raise NotImplementedError("Exotel numbers are routed in the dashboard (see can_route)")
