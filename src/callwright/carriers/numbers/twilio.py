"""Twilio's IncomingPhoneNumbers."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from callwright.carriers import get_carrier
from callwright.carriers._wire import json_object, text
from callwright.carriers.base import Account, CarrierEndpoints
from callwright.carriers.numbers.base import (
    MAX_PAGES,
    Binding,
    CarrierNumber,
    listed_items,
)
from callwright.domain.providers import Provider


class TwilioNumbers:
    """IncomingPhoneNumbers: list, and ``VoiceUrl`` set on the number itself."""

    can_route: ClassVar[bool] = True
    carrier = get_carrier(Provider.TWILIO)

    def _base(self, account: Account, endpoints: CarrierEndpoints) -> str:
        return f"{endpoints.twilio}/Accounts/{account.identifiers['account_sid']}/IncomingPhoneNumbers"

    def _auth(self, account: Account) -> tuple[str, str]:
        return (account.identifiers["account_sid"], account.secrets["auth_token"])

    async def list_numbers(
        self, account: Account, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> list[CarrierNumber]:
        found: list[CarrierNumber] = []
        params: dict[str, str] = {"PageSize": "1000"}
        for _ in range(MAX_PAGES):
            response = await self.carrier.request(
                http,
                "GET",
                f"{self._base(account, endpoints)}.json",
                params=params,
                auth=self._auth(account),
                timeout=endpoints.timeout_secs,
            )
            page = json_object(response)
            for item in listed_items(page, "incoming_phone_numbers", "Twilio"):
                found.append(
                    CarrierNumber(
                        phone_number=text(item, "phone_number"),
                        carrier_ref=text(item, "sid"),
                        friendly_name=text(item, "friendly_name") or None,
                        route=text(item, "voice_url") or None,
                    )
                )
            # next_page_uri is a path on Twilio's host: only its query (PageToken…) is followed.
            next_page = page.get("next_page_uri")
            if not isinstance(next_page, str) or not next_page:
                break
            params = dict(parse_qsl(urlsplit(next_page).query))
        return found

    async def _set_voice_url(
        self,
        number: CarrierNumber,
        url: str,
        account: Account,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        await self.carrier.request(
            http,
            "POST",
            f"{self._base(account, endpoints)}/{number.carrier_ref}.json",
            data={"VoiceUrl": url, "VoiceMethod": "POST"},
            auth=self._auth(account),
            timeout=endpoints.timeout_secs,
        )

    async def point_at(
        self,
        number: CarrierNumber,
        url: str,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> Binding:
        await self._set_voice_url(number, url, account, http, endpoints)
        return Binding(bound_route=url, previous=number.route)

    async def restore(
        self,
        number: CarrierNumber,
        binding: Binding,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # An empty VoiceUrl clears it: the number had none before us.
        await self._set_voice_url(number, binding.previous or "", account, http, endpoints)
