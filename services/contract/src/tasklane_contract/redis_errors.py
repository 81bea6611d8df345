"""Telling Redis' refusals apart from an outage: a wrong password and a full Redis are states a
person must fix, and every process says so in its own words instead of "cannot connect"."""

from __future__ import annotations

from collections.abc import Iterator

from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    OutOfMemoryError,
)

# The one line that says what to change when Redis refuses a process's password.
CHECK_PASSWORD = (
    "set TASKLANE_REDIS_PASSWORD (or the password in TASKLANE_REDIS_URL) to Redis' password"
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and the ones it was raised from (kombu wraps redis-py's errors)."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def is_authentication_failure(error: BaseException) -> bool:
    return any(
        isinstance(e, AuthenticationError | AuthenticationWrongNumberOfArgsError)
        for e in _chain(error)
    )


def is_out_of_memory(error: BaseException) -> bool:
    return any(isinstance(e, OutOfMemoryError) for e in _chain(error))
