"""What beat takes for Redis being away, how long it waits, and what it says."""

from __future__ import annotations

import redis
from celery.beat import SchedulingError
from kombu.exceptions import OperationalError

from tasklane_beat.outage import Outage, describe, redis_away_cause


def test_the_wait_doubles_up_to_the_loop_interval_and_restarts_after_an_outage() -> None:
    outage = Outage(max_wait_s=5)
    assert [outage.attempt_failed(now=100.0 + i) for i in range(6)] == [1, 2, 4, 5, 5, 5]
    assert outage.end(now=130.0) == (6, 30.0)
    assert outage.end(now=131.0) is None  # nothing to report twice
    assert outage.attempt_failed(now=200.0) == 1


def test_the_cause_is_found_behind_celery_and_kombu_wrapping() -> None:
    refused = redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")
    try:
        try:
            raise refused
        except redis.RedisError:
            raise SchedulingError("Couldn't apply scheduled task x") from None
    except SchedulingError as wrapped:
        # `from None` hides it from tracebacks but Python still keeps it as the context.
        assert redis_away_cause(wrapped) is refused
    assert isinstance(redis_away_cause(OperationalError("boom")), OperationalError)
    assert redis_away_cause(ValueError("a bug of beat's own")) is None
    assert redis_away_cause(redis.exceptions.ResponseError("WRONGTYPE")) is None


def test_each_cause_reads_as_what_to_do() -> None:
    auth = describe(redis.exceptions.AuthenticationError("invalid username-password pair."))
    assert auth == (
        "Redis refused the credentials (AuthenticationError: invalid username-password pair): "
        "check TASKLANE_REDIS_PASSWORD"
    )
    assert describe(redis.exceptions.OutOfMemoryError("OOM")).startswith("Redis is full")
    assert describe(redis.exceptions.BusyLoadingError("LOADING")).startswith("Redis is loading")
    assert describe(redis.exceptions.TimeoutError("Timeout connecting to server")) == (
        "Redis is unreachable (TimeoutError: Timeout connecting to server)"
    )
