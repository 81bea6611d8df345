"""What routes receive: one `Services` object built at startup, as an `Annotated` shorthand.

One dependency instead of one per client, and an async one (FastAPI runs a plain function
in its thread pool), keep the cost of resolving it on every request low."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request

from tasklane_api.api_keys import ApiKeys
from tasklane_api.celery_message import MessageBuilder
from tasklane_api.metrics import ApiMetrics
from tasklane_api.rate_limit import RateLimiter
from tasklane_api.redis_health import RedisHealth
from tasklane_api.revoker import Revoker
from tasklane_api.task_store import TaskStore
from tasklane_contract.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: aioredis.Redis
    store: TaskStore
    messages: MessageBuilder
    revoker: Revoker
    metrics: ApiMetrics
    api_keys: ApiKeys
    rate_limiter: RateLimiter
    redis_health: RedisHealth


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
