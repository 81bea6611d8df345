"""What routes receive, as `Annotated` shorthands over objects built once at startup."""

from __future__ import annotations

from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request

from tasklane_api.metrics import ApiMetrics
from tasklane_api.publisher import CeleryPublisher
from tasklane_api.rate_limit import RateLimiter
from tasklane_api.task_store import TaskStore
from tasklane_contract.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_redis(request: Request) -> aioredis.Redis:
    client: aioredis.Redis = request.app.state.redis
    return client


def get_store(request: Request) -> TaskStore:
    store: TaskStore = request.app.state.store
    return store


def get_publisher(request: Request) -> CeleryPublisher:
    publisher: CeleryPublisher = request.app.state.publisher
    return publisher


def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]
StoreDep = Annotated[TaskStore, Depends(get_store)]
PublisherDep = Annotated[CeleryPublisher, Depends(get_publisher)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
