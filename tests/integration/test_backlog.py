"""Backlog reading against a real Redis filled by real Celery publishing and consuming."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import redis

from tasklane_contract.backlog import read_backlog
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.polling import eventually
from tests.support.processes import start_api, start_worker


def test_priority_lists_and_reserved_messages_are_counted(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    env = {"TASKLANE_REDIS_URL": fresh_redis.url, "TASKLANE_WORKER_CONCURRENCY": "1"}
    producer = create_celery_app(Settings(redis_url=fresh_redis.url), main="producer")
    client = redis.Redis.from_url(fresh_redis.url)
    worker = None
    api = start_api(env, tmp_path, port := free_port())
    try:
        for priority in (0, 3, 9):
            producer.send_task("demo.sleep", kwargs={"seconds": 30}, priority=priority)
        producer.send_task("text.process", kwargs={"data": "x"}, priority=6, queue="default")
        # LLEN of the bare queue sees one of the four, which is the usual scaler's mistake.
        assert client.llen("default") == 1
        backlog = read_backlog(client, ["default", "email"])
        assert (backlog["default"].waiting, backlog["default"].reserved) == (4, 0)
        assert backlog["email"].total == 0

        worker = start_worker(env, tmp_path)
        running = eventually(
            lambda: b if (b := read_backlog(client, ["default"])["default"]).reserved == 1 else None
        )
        assert (running.waiting, running.total) == (3, 4)
        assert len(client.hvals("unacked")) == 1
        # The API reports the same figures.
        queues = httpx.get(f"http://127.0.0.1:{port}/v1/queues").json()["queues"]
        default = next(q for q in queues if q["name"] == "default")
        assert (default["waiting"], default["reserved"], default["total"]) == (3, 1, 4)
        # Celery's default queue too, where a producer naming no queue sends.
        assert {q["name"] for q in queues} == {
            "default",
            "email",
            "reports",
            "maintenance",
            "celery",
        }
    finally:
        if worker is not None:
            worker.kill()
        api.stop()
        producer.close()
        client.close()


def test_unacked_entries_of_other_queues_are_not_counted(redis_client: redis.Redis) -> None:
    queue = f"q{time.monotonic_ns()}"
    other = f"o{time.monotonic_ns()}"
    redis_client.rpush(queue, b"m1", b"m2")
    redis_client.rpush(f"{queue}\x06\x163", b"m3")
    redis_client.hset("unacked", f"tag-{queue}", json.dumps([{"body": "..."}, queue, queue]))
    redis_client.hset("unacked", f"tag-{other}", json.dumps([{"body": "..."}, other, other]))
    try:
        backlog = read_backlog(redis_client, [queue, other])
        assert (backlog[queue].waiting, backlog[queue].reserved) == (3, 1)
        assert (backlog[other].waiting, backlog[other].reserved) == (0, 1)
    finally:
        redis_client.hdel("unacked", f"tag-{queue}", f"tag-{other}")
        redis_client.delete(queue, f"{queue}\x06\x163")
