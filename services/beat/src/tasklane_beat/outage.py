"""What beat does while Redis is away: which errors mean that, how long to wait before the next
attempt, and the one line it logs per attempt."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from kombu.exceptions import OperationalError

# Errors of a Redis that is down, restarting, loading its data, full, or refusing the password:
# beat waits them out. Anything else is a fault of beat's own and is not hidden.
REDIS_AWAY: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # also AuthenticationError and BusyLoadingError
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica that has not been promoted yet
    redis.exceptions.OutOfMemoryError,
    OperationalError,  # kombu's wrapping of the same when publishing
    ConnectionError,  # the socket's own, should one get through unwrapped
    TimeoutError,
)


def redis_away_cause(exc: BaseException) -> BaseException | None:
    """The Redis error behind `exc` (itself, or what it was raised from or during), or None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, REDIS_AWAY):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe(cause: BaseException) -> str:
    """What is wrong, in words an operator acts on."""
    detail = f"{type(cause).__name__}: {cause}".rstrip(". ")
    if isinstance(cause, redis.exceptions.AuthenticationError):
        return f"Redis refused the credentials ({detail}): check TASKLANE_REDIS_PASSWORD"
    if isinstance(cause, redis.exceptions.OutOfMemoryError):
        return f"Redis is full ({detail})"
    if isinstance(cause, redis.exceptions.BusyLoadingError):
        return f"Redis is loading its data ({detail})"
    return f"Redis is unreachable ({detail})"


@dataclass
class Outage:
    """Attempts since Redis went away; the wait before the next one doubles up to `max_wait_s`."""

    max_wait_s: float
    attempts: int = 0
    started_at: float | None = None

    def attempt_failed(self, now: float) -> float:
        """Count a failed attempt; the seconds to wait before the next."""
        if self.started_at is None:
            self.started_at = now
        self.attempts += 1
        return float(min(self.max_wait_s, 2 ** (self.attempts - 1)))

    def end(self, now: float) -> tuple[int, float] | None:
        """(failed attempts, seconds) of the outage that just ended, or None if there was none."""
        if self.started_at is None:
            return None
        ended = (self.attempts, now - self.started_at)
        self.attempts, self.started_at = 0, None
        return ended
