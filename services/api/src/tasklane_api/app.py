"""Building the FastAPI app: clients and settings are made once, in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tasklane_api import method_not_allowed, openapi
from tasklane_api.api_keys import ApiKeys, require_api_key
from tasklane_api.celery_message import MessageBuilder
from tasklane_api.dependencies import Services
from tasklane_api.hot_routes import HotRoutes
from tasklane_api.metrics import ApiMetrics, RequestMetricsMiddleware
from tasklane_api.rate_limit import RateLimiter
from tasklane_api.redis_health import RedisHealth
from tasklane_api.revoker import Revoker
from tasklane_api.routes import catalog, health, queues, tasks
from tasklane_api.task_store import TaskStore
from tasklane_api.unavailable import BROKER_UNAVAILABLE, unavailable_response
from tasklane_contract.catalog import CATALOG
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.redis_clients import async_redis_client
from tasklane_contract.settings import Settings


def create_redis(settings: Settings) -> aioredis.Redis:
    return async_redis_client(
        settings,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        # One quick retry covers a dropped pooled connection; an outage becomes a 503 fast.
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )


def create_app(settings: Settings) -> FastAPI:
    metrics = ApiMetrics()
    api_keys = ApiKeys([key.get_secret_value() for key in settings.api_keys])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = create_redis(settings)
        celery_app = create_celery_app(settings, main="tasklane_api")
        app.state.services = Services(
            settings=settings,
            redis=client,
            store=TaskStore(
                client,
                ttl_s=settings.result_expires_s,
                replica_acks=settings.replica_acks,
                replica_ack_timeout_s=settings.redis_replica_ack_timeout_s,
            ),
            messages=MessageBuilder(),
            revoker=Revoker(celery_app),
            metrics=metrics,
            api_keys=api_keys,
            rate_limiter=RateLimiter(client, settings.rate_limit_per_minute),
            redis_health=RedisHealth(settings.redis_display),
        )
        try:
            yield
        finally:
            await client.aclose()
            celery_app.close()

    app = FastAPI(
        title="tasklane",
        version="0.1.0",
        summary="Submit background tasks by name, follow them, read their results.",
        lifespan=lifespan,
    )
    for module in (tasks, catalog, queues):
        app.include_router(module.router, dependencies=[Depends(require_api_key)])
    app.include_router(health.router)  # probes and scrapes need no key
    openapi.install(app, CATALOG, secured=api_keys.required)
    method_not_allowed.install(app)

    async def broker_unavailable(request: Request, exc: Exception) -> JSONResponse:
        services: Services = request.app.state.services
        return unavailable_response(exc, services.redis_health, settings.retry_after_s)

    for error in BROKER_UNAVAILABLE:
        app.add_exception_handler(error, broker_unavailable)
    # The two hottest routes skip FastAPI's per-request machinery (see hot_routes); the
    # metrics middleware, added last, wraps it too.
    app.add_middleware(HotRoutes, routes=tasks.router)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
