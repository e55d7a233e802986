"""``/metrics``: Prometheus's text format (``callwright.metrics``).

Behind the admin token (``Authorization: Bearer <CALLWRIGHT_ADMIN_TOKEN>``) unless
``CALLWRIGHT_METRICS_PUBLIC`` is set, for a scraper in a private network that carries none.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from callwright.api.deps import PlatformDep, require_admin
from callwright.metrics import multiprocess_dir
from callwright.services.store_metrics import StoreSnapshot

router = APIRouter(tags=["health"])


_EXAMPLE = """# HELP callwright_active_calls Calls whose media stream this node carries now.
# TYPE callwright_active_calls gauge
callwright_active_calls{carrier="vobiz",node="callwright-7d9f-abcde"} 3.0
"""


@router.get(
    "/metrics",
    summary="Prometheus metrics (admin token unless CALLWRIGHT_METRICS_PUBLIC)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"example": _EXAMPLE}}}},
)
async def metrics(request: Request, platform: PlatformDep) -> Response:
    if not platform.settings.metrics_public:
        await require_admin(request, platform)
    async with platform.sessions() as session:
        snapshot = await StoreSnapshot().read(session=session)
    registry = CollectorRegistry()
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        # Every worker's values, read from their files (this worker's own included).
        multiprocess.MultiProcessCollector(registry)
        exposition = generate_latest(registry)
    else:
        exposition = generate_latest(REGISTRY)
    registry = CollectorRegistry()
    registry.register(snapshot)
    return Response(exposition + generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
