"""The one-round-trip result backend against a real Redis: Celery's meta, expiry, publish, and
a stored SUCCESS that no later state overwrites."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from uuid import uuid4

import billiard  # type: ignore[import-untyped]
import pytest
import redis
from celery import Celery

from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.records import result_key
from tasklane_contract.reservations import HOLDER_PROPERTY, HOLDERS_KEY, holder_record
from tasklane_contract.result_backend import (
    FORBIDDEN,
    KEPT_SUCCESS,
    NOT_HELD,
    STORED,
    RedisResultBackend,
)
from tasklane_contract.settings import Settings
from tasklane_devstack.redis_server import RedisServer
from tests.support.memory import fill_to_maxmemory, free


@pytest.fixture
def app(redis_server: RedisServer) -> Iterator[Celery]:
    app = create_celery_app(Settings(redis_url=redis_server.url, result_expires_s=600))
    yield app
    app.close()


def stored(client: redis.Redis, task_id: str) -> dict[str, object]:
    raw = client.get(result_key(task_id))
    assert raw is not None
    meta: dict[str, object] = json.loads(raw)
    return meta


def test_every_app_uses_it_at_the_configured_url(app: Celery, redis_server: RedisServer) -> None:
    assert isinstance(app.backend, RedisResultBackend)
    assert app.backend.url == redis_server.url


def test_states_are_stored_as_celery_meta_with_the_result_expiry(
    app: Celery, redis_client: redis.Redis
) -> None:
    task_id = str(uuid4())
    app.backend.store_result(task_id, {"pid": 1}, "STARTED")
    assert stored(redis_client, task_id)["status"] == "STARTED"
    app.backend.store_result(task_id, {"processed_data": "HI"}, "SUCCESS")
    meta = stored(redis_client, task_id)
    assert (meta["status"], meta["result"], meta["task_id"]) == (
        "SUCCESS",
        {"processed_data": "HI"},
        task_id,
    )
    assert 0 < redis_client.ttl(result_key(task_id)) <= 600
    # Celery's own reader agrees.
    assert app.AsyncResult(task_id).result == {"processed_data": "HI"}


def test_a_stored_success_is_never_overwritten(app: Celery, redis_client: redis.Redis) -> None:
    task_id = str(uuid4())
    app.backend.store_result(task_id, {"processed_data": "HI"}, "SUCCESS")
    # A redelivered copy of the finished task starts and fails: the result stays.
    app.backend.store_result(task_id, {"pid": 2}, "STARTED")
    app.backend.mark_as_failure(task_id, RuntimeError("late copy"))
    assert stored(redis_client, task_id)["status"] == "SUCCESS"


def test_each_state_is_published_for_waiting_clients(
    app: Celery, redis_client: redis.Redis
) -> None:
    task_id = str(uuid4())
    subscriber = redis_client.pubsub()
    subscriber.subscribe(result_key(task_id))
    assert subscriber.get_message(timeout=5) is not None  # the subscription's confirmation
    app.backend.store_result(task_id, {"processed_data": "HI"}, "SUCCESS")
    message = subscriber.get_message(timeout=5)
    subscriber.close()
    assert message is not None
    assert json.loads(message["data"])["status"] == "SUCCESS"


def test_the_script_is_loaded_again_after_redis_forgets_it(
    app: Celery, redis_client: redis.Redis
) -> None:
    app.backend.store_result(str(uuid4()), None, "STARTED")
    redis_client.script_flush()  # what a Redis restart does
    task_id = str(uuid4())
    app.backend.store_result(task_id, None, "STARTED")
    assert stored(redis_client, task_id)["status"] == "STARTED"


def test_started_is_stored_unless_the_forbidding_key_exists(
    app: Celery, redis_client: redis.Redis
) -> None:
    task_id, revoked = str(uuid4()), str(uuid4())
    redis_client.set(f"test:revoked:{revoked}", b"1", ex=60)
    backend = app.backend
    started = backend.store_started_unless(task_id, {"pid": 1}, None, f"test:revoked:{task_id}")
    assert started == STORED
    assert stored(redis_client, task_id)["status"] == "STARTED"
    refused = backend.store_started_unless(revoked, {"pid": 1}, None, f"test:revoked:{revoked}")
    assert refused == FORBIDDEN
    assert redis_client.get(result_key(revoked)) is None  # nothing written


class Run:
    """What Celery passes as `request`: the properties the run's message was delivered with."""

    def __init__(self, tag: str, holder: str) -> None:
        self.properties = {"delivery_tag": tag, HOLDER_PROPERTY: holder}


def test_a_run_writes_only_while_its_worker_holds_the_message(
    app: Celery, redis_client: redis.Redis
) -> None:
    task_id, tag = str(uuid4()), str(uuid4())
    redis_client.hset(HOLDERS_KEY, tag, holder_record("worker-b", 10, "default"))
    # worker-a was frozen past its lease; the task's message went to worker-b.
    late = Run(tag, "worker-a")
    assert app.backend.store_started_unless(task_id, {"pid": 1}, late, "test:none") == NOT_HELD
    app.backend.store_result(task_id, {"slept_s": 1}, "SUCCESS", request=late)
    assert redis_client.get(result_key(task_id)) is None
    app.backend.store_result(task_id, {"slept_s": 2}, "SUCCESS", request=Run(tag, "worker-b"))
    assert stored(redis_client, task_id)["result"] == {"slept_s": 2}
    # Once no one holds the message (acknowledged, or waiting in its queue), writes go through:
    # a stored SUCCESS is then kept as ever.
    redis_client.hdel(HOLDERS_KEY, tag)
    assert app.backend.store_started_unless(task_id, {"pid": 3}, late, "test:none") == (
        KEPT_SUCCESS
    )


def store_success(url: str, task_id: str) -> None:
    app = create_celery_app(Settings(redis_url=url))
    app.backend.store_result(task_id, {"processed_data": "HI"}, "SUCCESS")


def test_while_redis_is_full_started_is_skipped_and_a_result_waits_until_it_fits(
    fresh_redis: RedisServer,
) -> None:
    app = create_celery_app(Settings(redis_url=fresh_redis.url))
    client = redis.Redis.from_url(fresh_redis.url)
    task_id = str(uuid4())
    fillers = fill_to_maxmemory(client)
    try:
        assert app.backend.store_started_unless(task_id, {"pid": 1}, None, "test:none") == STORED
        assert client.get(result_key(task_id)) is None  # done without
        # A process that must go on (a worker's consumer) drops it at once...
        began = time.monotonic()
        app.backend.store_result(task_id, {"processed_data": "HI"}, "FAILURE")
        assert time.monotonic() - began < 1
        assert client.get(result_key(task_id)) is None
        # ...and a task process waits until its result fits.
        task_process = billiard.Process(target=store_success, args=(fresh_redis.url, task_id))
        task_process.start()
        time.sleep(2)
        assert task_process.is_alive()
        assert client.get(result_key(task_id)) is None
        free(client, fillers)
        task_process.join(20)
        assert task_process.exitcode == 0
        assert stored(client, task_id)["status"] == "SUCCESS"
    finally:
        free(client, fillers)
        client.close()
        app.close()
