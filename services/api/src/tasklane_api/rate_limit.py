"""Submissions per client per minute (TASKLANE_RATE_LIMIT_PER_MINUTE), counted in Redis so
every API replica shares one budget. A fixed one-minute window: one INCR per submission."""

from __future__ import annotations

import hashlib
import math

import redis.asyncio as aioredis
from fastapi import Request

from tasklane_api.api_keys import presented_key

WINDOW_S = 60


def window_key(identity: str, now: float) -> str:
    return f"tasklane:rate:{identity}:{int(now // WINDOW_S)}"


def retry_after_s(count: int, limit: int, now: float) -> int | None:
    """Seconds until the window resets when `count` is over `limit`, else None."""
    if count <= limit:
        return None
    return max(1, math.ceil(WINDOW_S - now % WINDOW_S))


def client_identity(request: Request) -> str:
    """The API key when one is presented (hashed: keys never reach Redis), else the address."""
    key = presented_key(request)
    if key:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return "ip:" + (request.client.host if request.client else "unknown")


class RateLimiter:
    def __init__(self, client: aioredis.Redis, per_minute: int) -> None:
        self.client = client
        self.per_minute = per_minute

    async def retry_after(self, identity: str, now: float) -> int | None:
        if self.per_minute <= 0:
            return None
        key = window_key(identity, now)
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, WINDOW_S + 1)
        count, _ = await pipe.execute()
        return retry_after_s(int(count), self.per_minute, now)
