"""Other producers send by name too; the worker validates what they send and keeps going."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from celery import Celery
from celery.result import AsyncResult

from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.redis_transport import UNREADABLE_KEY
from tasklane_contract.settings import Settings
from tests.conftest import Stack


@pytest.fixture
def producer(stack: Stack) -> Iterator[Celery]:
    app = create_celery_app(Settings(redis_url=stack.redis.url), main="foreign")
    yield app
    app.close()


def outcome(result: AsyncResult) -> tuple[str, object]:
    try:
        value = result.get(timeout=20, propagate=False)
    finally:
        state = result.state
    return state, value


def test_bad_arguments_fail_the_task_with_a_validation_error(producer: Celery) -> None:
    bad = producer.send_task("text.process", kwargs={"data": 5, "extra": True})
    state, error = outcome(bad)
    assert state == "FAILURE"
    assert type(error).__name__ == "InvalidTaskArguments"
    assert "invalid arguments for text.process" in str(error)
    assert "data: Input should be a valid string" in str(error)
    assert "extra: Extra inputs are not permitted" in str(error)


def test_positional_arguments_are_refused(producer: Celery) -> None:
    state, error = outcome(producer.send_task("text.process", args=["hello"]))
    assert state == "FAILURE"
    assert "keyword arguments only" in str(error)


def test_worker_keeps_going_after_bad_messages(producer: Celery) -> None:
    for _ in range(3):
        producer.send_task("email.send", kwargs={"to": 1})
    state, value = outcome(producer.send_task("text.process", kwargs={"data": "still here"}))
    assert state == "SUCCESS"
    assert value == {"processed_data": "STILL HERE"}


def test_worker_keeps_going_after_a_message_that_is_not_celerys(
    producer: Celery, stack: Stack
) -> None:
    client = redis.Redis.from_url(stack.redis.url)
    try:
        client.lpush("default", "not json", json.dumps({"body": "no envelope"}))
        state, value = outcome(producer.send_task("text.process", kwargs={"data": "after"}))
        assert state == "SUCCESS"
        assert value == {"processed_data": "AFTER"}
        assert client.llen("default") == 0
        # Set aside for a person to look at, not lost.
        assert set(client.lrange(UNREADABLE_KEY, 0, -1)) == {
            b"not json",
            b'{"body": "no envelope"}',
        }
    finally:
        client.close()
