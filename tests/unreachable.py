"""Carriers pointed at nothing: a loopback port nothing listens on, so a request to a carrier fails
at once (502 from the API) and never leaves the machine."""

from __future__ import annotations

from typing import Any

from tests.ports import closed_port


def unreachable_carriers() -> dict[str, Any]:
    """Settings fields that send every carrier's REST API to a closed loopback port."""
    nowhere = f"http://127.0.0.1:{closed_port()}"
    return {
        f"{name}_api_url": nowhere for name in ("vobiz", "plivo", "twilio", "exotel", "mcube")
    }
