"""The answer while Redis is unreachable, refuses the API's password or is full: 503 with
Retry-After and a body saying which, never a 500."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import AuthenticationWrongNumberOfArgsError, OutOfMemoryError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tasklane_api.redis_health import RedisHealth, answer_detail

BROKER_UNAVAILABLE = (
    RedisConnectionError,  # AuthenticationError included
    RedisTimeoutError,
    AuthenticationWrongNumberOfArgsError,
    OutOfMemoryError,
    BrokerError,
    ConnectionError,
)


def unavailable_response(exc: Exception, health: RedisHealth, retry_after_s: int) -> JSONResponse:
    state = health.failed(exc)
    return JSONResponse(
        {"detail": answer_detail(state, exc)},
        status_code=503,
        headers={"Retry-After": str(retry_after_s)},
    )
