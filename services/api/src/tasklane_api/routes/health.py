"""Probes and metrics: /healthz (process alive), /readyz (Redis answers and has room),
/metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tasklane_api.dependencies import ServicesDep
from tasklane_api.redis_health import not_ready_because
from tasklane_contract.queues import OBSERVED_QUEUES

router = APIRouter(tags=["health"])

NOT_READY = "Redis is unreachable, refuses the API's password, or is full (`reason` says which)."


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": NOT_READY}})
async def readyz(services: ServicesDep, response: Response) -> dict[str, str]:
    reason = await not_ready_because(services.redis, services.redis_health)
    if reason is None:
        return {"status": "ok"}
    response.status_code = 503
    response.headers["Retry-After"] = str(services.settings.retry_after_s)
    return {"status": "unavailable", "reason": reason}


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    await services.metrics.refresh_backlog(services.redis, OBSERVED_QUEUES)
    await services.metrics.refresh_redis_memory(services.redis)
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
