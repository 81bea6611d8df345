"""The answer while Redis is unreachable: 503 with Retry-After, never a 500."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

BROKER_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, BrokerError, ConnectionError)


def unavailable_response(exc: Exception, retry_after_s: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"Redis is unreachable ({type(exc).__name__}); retry later"},
        status_code=503,
        headers={"Retry-After": str(retry_after_s)},
    )
