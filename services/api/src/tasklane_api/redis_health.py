"""What the API makes of Redis failing: a wrong password, an outage and a full Redis each answer
503, but each needs someone to do something different, so each is named (in the answer, in
/readyz and in the log), and the log says it once per change of state, not once per request."""

from __future__ import annotations

import enum
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tasklane_api.redis_memory import takes_a_write
from tasklane_contract.redis_errors import (
    CHECK_PASSWORD,
    is_authentication_failure,
    is_out_of_memory,
)

log = logging.getLogger("tasklane_api.redis")


class RedisState(enum.Enum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    AUTHENTICATION_FAILED = "authentication failed"
    FULL = "full"

    @property
    def rejection_reason(self) -> str:
        """The `reason` label of a submission refused in this state."""
        return f"redis_{self.name.lower()}"


def state_of(error: BaseException) -> RedisState:
    """The state an error from Redis (or from kombu, which wraps redis-py's) shows."""
    if is_authentication_failure(error):
        return RedisState.AUTHENTICATION_FAILED
    if is_out_of_memory(error):
        return RedisState.FULL
    return RedisState.UNREACHABLE


def answer_detail(state: RedisState, error: BaseException | None) -> str:
    """What a client is told while Redis is in `state`."""
    if state is RedisState.FULL:
        return (
            "Redis is full (out of memory): nothing new can be stored until memory is freed; "
            "retry later"
        )
    if state is RedisState.AUTHENTICATION_FAILED:
        return "Redis refused the API's credentials (authentication failed); retry later"
    cause = f" ({type(error).__name__})" if error is not None else ""
    return f"Redis is unreachable{cause}; retry later"


class RedisHealth:
    """The last state the API saw Redis in, logged when it changes."""

    def __init__(self, redis_display: str) -> None:
        self.redis_display = redis_display
        self.state = RedisState.OK

    def failed(self, error: BaseException) -> RedisState:
        state = state_of(error)
        if state is not self.state:
            self.state = state
            self._log_change(error)
        return state

    def full(self, detail: str) -> None:
        """Redis refused the write /readyz tries."""
        if self.state is not RedisState.FULL:
            self.state = RedisState.FULL
            self._log_change(None, detail)

    def answered(self, *, wrote: bool) -> None:
        """Redis answered a command; only a write shows that a full Redis has room again."""
        if self.state is RedisState.OK or (self.state is RedisState.FULL and not wrote):
            return
        log.info("Redis at %s answers again (was %s)", self.redis_display, self.state.value)
        self.state = RedisState.OK

    def _log_change(self, error: BaseException | None, detail: str = "") -> None:
        where = self.redis_display
        if self.state is RedisState.AUTHENTICATION_FAILED:
            log.error(
                "Redis at %s refused the API's password (authentication failed: %s): %s; "
                "every request that needs Redis answers 503 until then",
                where,
                error,
                CHECK_PASSWORD,
            )
        elif self.state is RedisState.FULL:
            log.error(
                "Redis at %s is full%s: it refuses writes (maxmemory reached, policy "
                "noeviction), so submissions and revokes answer 503 until memory is freed",
                where,
                f" ({detail})" if detail else "",
            )
        else:
            log.error(
                "Redis at %s is unreachable (%s: %s); requests that need it answer 503 "
                "until it is back",
                where,
                type(error).__name__,
                error,
            )


async def not_ready_because(client: aioredis.Redis, health: RedisHealth) -> str | None:
    """Why Redis cannot serve the API now, for /readyz, or None; `health` notes what it saw."""
    try:
        writable, memory = await takes_a_write(client)
    except (RedisError, OSError) as exc:
        state = health.failed(exc)
        cause = f" ({type(exc).__name__})" if state is RedisState.UNREACHABLE else ""
        return f"redis: {state.value}{cause}"
    if not writable:
        detail = f"a write was refused; {memory.describe()}" if memory else "a write was refused"
        health.full(detail)
        return f"redis: full ({detail})"
    health.answered(wrote=True)
    return None
