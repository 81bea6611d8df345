"""Other producers send by name too; the worker validates what they send and keeps going, the
API reads their results by id, and what they send where no worker reads shows in the backlog."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis
from celery import Celery
from celery.result import AsyncResult

from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.redis_transport import UNREADABLE_KEY
from tasklane_contract.settings import Settings
from tests.conftest import Stack
from tests.support.metrics import sample_value


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


def test_a_foreign_task_that_ran_is_readable_by_id(producer: Celery, client: httpx.Client) -> None:
    sent = producer.send_task("text.process", kwargs={"data": "from afar"})
    assert outcome(sent) == ("SUCCESS", {"processed_data": "FROM AFAR"})
    found = client.get(f"/v1/tasks/{sent.id}")
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["status"], body["name"], body["queue"]) == ("SUCCESS", "text.process", "default")
    assert body["result"] == {"processed_data": "FROM AFAR"}
    assert body["submitted_at"] is None  # the API never saw it sent
    # Finished: a revoke is refused as for any finished task, not answered 404.
    assert client.delete(f"/v1/tasks/{sent.id}").status_code == 409
    # An id nobody sent is still unknown.
    assert client.get(f"/v1/tasks/{uuid.uuid4()}").status_code == 404


def test_a_task_sent_to_celerys_default_queue_shows_in_the_backlog(
    stack: Stack, client: httpx.Client
) -> None:
    """Celery's stock configuration sends a task that names no queue to the list `celery`,
    which no pool consumes: it must not wait there unseen."""
    stock = Celery("stock", broker=stack.redis.url, set_as_current=False)
    redis_client = redis.Redis.from_url(stack.redis.url)
    try:
        stock.send_task("text.process", kwargs={"data": "lost?"})

        queues = {q["name"]: q for q in client.get("/v1/queues").json()["queues"]}
        assert queues["celery"]["waiting"] == 1
        metrics = client.get("/metrics").text
        assert sample_value(metrics, "tasklane_queue_waiting", queue="celery") == 1
    finally:
        redis_client.delete("celery")
        redis_client.close()
        stock.close()
