"""MCube as the simulator plays it, at the real host's paths (``https://api.mcube.com``).

MCube documents no credential check (carriers.md §5), so this router has no routes yet. It is the
home for click-to-call (``POST /Restmcube-api/outbound-calls``, the account JWT in the JSON body's
``HTTP_AUTHORIZATION`` field) and the call-release hangup when outbound calling arrives.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
