"""Carriers' number APIs: list an account's numbers, point one at our inbound URL and back.

One small class per carrier behind ``NumberApi``; ``NUMBER_APIS`` maps the provider to it. A
carrier missing from the map (MCube) has no number API: its numbers are added by the operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx

from callwright.carriers import get_carrier
from callwright.carriers._wire import json_object, text
from callwright.carriers.base import Account, CarrierEndpoints, CarrierRejected
from callwright.carriers.exotel import api_base as exotel_api_base
from callwright.domain.providers import Provider

_MAX_PAGES = 50


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
        for _ in range(_MAX_PAGES):
            response = await self.carrier.request(
                http,
                "GET",
                f"{self._base(account, endpoints)}.json",
                params=params,
                auth=self._auth(account),
                timeout=endpoints.timeout_secs,
            )
            page = json_object(response)
            for item in _listed(page, "incoming_phone_numbers", "Twilio"):
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
        for _ in range(_MAX_PAGES):
            response = await self.carrier.request(
                http,
                "GET",
                self._url(account, endpoints, "Number"),
                params={"limit": limit, "offset": offset},
                timeout=endpoints.timeout_secs,
                **self._auth(account),
            )
            page = json_object(response)
            listed = _listed(page, "objects", "Plivo")
            for item in listed:
                number = text(item, "number")
                found.append(
                    CarrierNumber(
                        phone_number=e164(number),
                        carrier_ref=number,
                        friendly_name=text(item, "alias") or None,
                        # "application": the linked application's URI, …/Application/{app_id}/
                        route=_last_segment(text(item, "application")),
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
        for page_number in range(1, _MAX_PAGES + 1):
            response = await self.carrier.request(
                http,
                "GET",
                self._numbers(account, endpoints),
                params={"page": page_number, "per_page": 100},
                timeout=endpoints.timeout_secs,
                **self._auth(account),
            )
            page = json_object(response)
            listed = _listed(page, "items", "Vobiz")
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
        for _ in range(_MAX_PAGES):
            response = await self.carrier.request(
                http,
                "GET",
                url,
                params=query or None,
                auth=(account.secrets["api_key"], account.secrets["api_token"]),
                timeout=endpoints.timeout_secs,
            )
            page = json_object(response)
            listed = _listed(page, "incoming_phone_numbers", "Exotel")
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


NUMBER_APIS: dict[Provider, NumberApi] = {
    Provider.TWILIO: TwilioNumbers(),
    Provider.PLIVO: PlivoNumbers(),
    Provider.VOBIZ: VobizNumbers(),
    Provider.EXOTEL: ExotelNumbers(),
}


def _listed(page: Mapping[str, Any], key: str, carrier: str) -> list[Mapping[str, Any]]:
    listed = page.get(key)
    if not isinstance(listed, list):
        raise CarrierRejected(f"{carrier} answered the number list without its {key}")
    return [item for item in listed if isinstance(item, Mapping)]


def _last_segment(uri: str) -> str | None:
    parts = [part for part in uri.split("/") if part]
    return parts[-1] if parts else None
