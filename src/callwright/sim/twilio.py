"""Twilio as the simulator plays it, at the real host's paths (``https://api.twilio.com``).

Auth is HTTP Basic ``AccountSid:AuthToken``; the account's SID is also in every path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from callwright.domain.providers import Provider
from callwright.sim.auth import Refusal, SimStateDep, basic_credentials, secrets_match
from callwright.sim.state import TwilioAccount

router = APIRouter()

API_VERSION = "/2010-04-01"
# Twilio's account resources list these sub-resources; only the names matter to clients.
SUBRESOURCES = (
    "addresses", "conferences", "signing_keys", "transcriptions", "connect_apps", "sip",
    "authorized_connect_apps", "usage", "keys", "applications", "recordings", "short_codes",
    "calls", "notifications", "incoming_phone_numbers", "queues", "messages",
    "outgoing_caller_ids", "available_phone_numbers", "balance",
)  # fmt: skip
CREATED_AT = datetime(2024, 1, 1, tzinfo=UTC)


def unauthorized() -> JSONResponse:
    # Twilio's documented body for error 20003; the WWW-Authenticate realm is from memory.
    return JSONResponse(
        {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        },
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
    )


def twilio_account(account_sid: str, request: Request, state: SimStateDep) -> TwilioAccount:
    # Twilio also takes an API key (SKxxx:secret) as the Basic login; the simulator does not.
    credentials = basic_credentials(request)
    if credentials is None:
        raise Refusal(unauthorized())
    user, token = credentials
    account = state.account(Provider.TWILIO, user)
    if (
        isinstance(account, TwilioAccount)
        and secrets_match(token, account.auth_token)
        and account_sid == account.account_sid
    ):
        return account
    raise Refusal(unauthorized())


TwilioAccountDep = Annotated[TwilioAccount, Depends(twilio_account)]


@router.get(API_VERSION + "/Accounts/{account_sid}.json")
async def fetch_account(account: TwilioAccountDep) -> dict[str, Any]:
    base = f"{API_VERSION}/Accounts/{account.account_sid}"
    created = format_datetime(CREATED_AT)
    return {
        # Twilio's Account resource echoes the auth token to whoever authenticated with it.
        "auth_token": account.auth_token,
        "date_created": created,
        "date_updated": created,
        "friendly_name": "Callwright simulated account",
        "owner_account_sid": account.account_sid,
        "sid": account.account_sid,
        "status": "active",
        "subresource_uris": {name: f"{base}/{_pascal(name)}.json" for name in SUBRESOURCES},
        "type": "Full",
        "uri": f"{base}.json",
    }


def _pascal(snake: str) -> str:
    if snake == "sip":
        return "SIP"
    return "".join(part.capitalize() for part in snake.split("_"))
