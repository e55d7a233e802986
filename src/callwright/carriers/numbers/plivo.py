"""Plivo's numbers and Applications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from callwright.carriers import get_carrier
from callwright.carriers._wire import json_object, text
from callwright.carriers.base import Account, CarrierEndpoints, CarrierRejected
from callwright.carriers.numbers.base import (
    MAX_PAGES,
    Binding,
    CarrierNumber,
    e164,
    last_segment,
    listed_items,
)
from callwright.domain.providers import Provider


class PlivoNumbers:
    """Number list (``/Number/``) and an Application whose ``answer_url`` is ours, linked to the
    number with ``app_id`` (carriers.md §2: "Link a number: POST /v1/Account/{id}/Number/{number}/")."""

    can_route: ClassVar[bool] = True
    carrier = get_carrier(Provider.PLIVO)

    def _url(self, account: Account, endpoints: CarrierEndpoints, *path: str) -> str:
        tail = "".join(f"{segment}/" for segment in path)
        return f"{endpoints.plivo}/Account/{account.identifiers['auth_id']}/{tail}"

    def _auth(self, account: Account) -> dict[str, Any]:
        return {"auth": (account.identifiers["auth_id"], account.secrets["auth_token"])}

    async def list_numbers(
        self, account: Account, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> list[CarrierNumber]:
        found: list[CarrierNumber] = []
        offset, limit = 0, 20  # Plivo pages at most 20 objects
        for _ in range(MAX_PAGES):
            response = await self.carrier.request(
                http,
                "GET",
                self._url(account, endpoints, "Number"),
                params={"limit": limit, "offset": offset},
                timeout=endpoints.timeout_secs,
                **self._auth(account),
            )
            page = json_object(response)
            listed = listed_items(page, "objects", "Plivo")
            for item in listed:
                number = text(item, "number")
                found.append(
                    CarrierNumber(
                        phone_number=e164(number),
                        carrier_ref=number,
                        friendly_name=text(item, "alias") or None,
                        # "application": the linked application's URI, …/Application/{app_id}/
                        route=last_segment(text(item, "application")),
                    )
                )
            meta = page.get("meta")
            if not listed or not isinstance(meta, Mapping) or not meta.get("next"):
                break
            offset += limit
        return found

    async def _link(
        self,
        number: CarrierNumber,
        app_id: str,
        account: Account,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        await self.carrier.request(
            http,
            "POST",
            self._url(account, endpoints, "Number", number.carrier_ref),
            json={"app_id": app_id},
            timeout=endpoints.timeout_secs,
            **self._auth(account),
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
        response = await self.carrier.request(
            http,
            "POST",
            self._url(account, endpoints, "Application"),
            json={"app_name": f"callwright-{number.carrier_ref}", "answer_url": url, "answer_method": "POST"},
            timeout=endpoints.timeout_secs,
            **self._auth(account),
        )
        app_id = text(json_object(response), "app_id")
        if not app_id:
            raise CarrierRejected("Plivo created the application but sent no app_id")
        await self._link(number, app_id, account, http, endpoints)
        return Binding(bound_route=app_id, previous=number.route)

    async def restore(
        self,
        number: CarrierNumber,
        binding: Binding,
        account: Account,
        *,
        http: httpx.AsyncClient,
        endpoints: CarrierEndpoints,
    ) -> None:
        # Guess: an empty app_id unlinks (Plivo documents app_id only as "the application to link").
        await self._link(number, binding.previous or "", account, http, endpoints)
        await self.carrier.request(
            http,
            "DELETE",
            self._url(account, endpoints, "Application", binding.bound_route),
            timeout=endpoints.timeout_secs,
            accept=(404,),
            **self._auth(account),
        )
