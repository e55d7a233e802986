"""Vobiz's numbers and applications."""

from __future__ import annotations

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
    listed_items,
)
from callwright.domain.providers import Provider


class VobizNumbers:
    """``GET /account/{id}/numbers`` (lowercase path), an Application with our ``answer_url``
    attached by ``POST /account/{id}/numbers/{e164}/application`` and detached by ``DELETE``."""

    can_route: ClassVar[bool] = True
    carrier = get_carrier(Provider.VOBIZ)

    def _auth(self, account: Account) -> dict[str, Any]:
        return {
            "headers": {
                "X-Auth-ID": account.identifiers["auth_id"],
                "X-Auth-Token": account.secrets["auth_token"],
            }
        }

    def _numbers(self, account: Account, endpoints: CarrierEndpoints) -> str:
        return f"{endpoints.vobiz}/account/{account.identifiers['auth_id']}/numbers"

    def _applications(self, account: Account, endpoints: CarrierEndpoints) -> str:
        return f"{endpoints.vobiz}/Account/{account.identifiers['auth_id']}/Application/"

    async def list_numbers(
        self, account: Account, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> list[CarrierNumber]:
        found: list[CarrierNumber] = []
        for page_number in range(1, MAX_PAGES + 1):
            response = await self.carrier.request(
                http,
                "GET",
                self._numbers(account, endpoints),
                params={"page": page_number, "per_page": 100},
                timeout=endpoints.timeout_secs,
                **self._auth(account),
            )
            page = json_object(response)
            listed = listed_items(page, "items", "Vobiz")
            for item in listed:
                found.append(
                    CarrierNumber(
                        phone_number=e164(text(item, "e164")),
                        carrier_ref=text(item, "id") or text(item, "e164"),
                        friendly_name=None,
                        # The partner API lists application_id; the account API's example omits it.
                        route=text(item, "application_id") or None,
                    )
                )
            total = page.get("total")
            if not listed or not isinstance(total, int) or len(found) >= total:
                break
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
        response = await self.carrier.request(
            http,
            "POST",
            self._applications(account, endpoints),
            json={
                "name": f"callwright-{number.phone_number}",
                "answer_url": url,
                "answer_method": "POST",
                "application_type": "XML",
            },
            timeout=endpoints.timeout_secs,
            **self._auth(account),
        )
        app_id = text(json_object(response), "app_id")
        if not app_id:
            raise CarrierRejected("Vobiz created the application but sent no app_id")
        await self.carrier.request(
            http,
            "POST",
            f"{self._numbers(account, endpoints)}/{number.phone_number}/application",
            json={"application_id": app_id},
            timeout=endpoints.timeout_secs,
            **self._auth(account),
        )
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
        attach = f"{self._numbers(account, endpoints)}/{number.phone_number}/application"
        if binding.previous:
            await self.carrier.request(
                http,
                "POST",
                attach,
                json={"application_id": binding.previous},
                timeout=endpoints.timeout_secs,
                **self._auth(account),
            )
        else:
            await self.carrier.request(
                http, "DELETE", attach, timeout=endpoints.timeout_secs, accept=(404,), **self._auth(account)
            )
        await self.carrier.request(
            http,
            "DELETE",
            f"{self._applications(account, endpoints)}{binding.bound_route}/",
            timeout=endpoints.timeout_secs,
            accept=(404,),
            **self._auth(account),
        )
