"""Probes and metrics: /healthz (process alive), /readyz (Redis reachable), /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from tasklane_api.dependencies import ServicesDep
from tasklane_contract.queues import ALL_QUEUES

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Redis is unreachable."}})
async def readyz(services: ServicesDep, response: Response) -> dict[str, str]:
    try:
        await services.redis.ping()
    except (RedisError, OSError) as exc:
        response.status_code = 503
        response.headers["Retry-After"] = str(services.settings.retry_after_s)
        return {"status": "unavailable", "reason": f"redis: {type(exc).__name__}"}
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    await services.metrics.refresh_backlog(services.redis, ALL_QUEUES)
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
