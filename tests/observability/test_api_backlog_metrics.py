"""The API's backlog gauges, read from a real Redis the way kombu stores messages: every
priority list counts, reserved messages count apart, and a Redis that is away leaves the
gauges out instead of exporting stale numbers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis
import redis.asyncio as aioredis
from prometheus_client import generate_latest

from tasklane_api.metrics import ApiMetrics
from tasklane_contract.backlog import PRIORITY_SEPARATOR, UNACKED_KEY
from tasklane_contract.reservations import REQUEUED_TOTAL_KEY
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer


def _refresh(metrics: ApiMetrics, url: str, queues: tuple[str, ...]) -> None:
    async def go() -> None:
        client = aioredis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            await metrics.refresh_backlog(client, queues)
        finally:
            await client.aclose()

    asyncio.run(go())


def _value(metrics: ApiMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_backlog_counts_priorities_and_reserved(fresh_redis: RedisServer) -> None:
    client = redis.Redis.from_url(fresh_redis.url)
    client.rpush("default", b"m1", b"m2")
    client.rpush(f"default{PRIORITY_SEPARATOR}3", b"m3")
    client.rpush("email", b"m4")
    client.hset(UNACKED_KEY, "tag-1", json.dumps([{}, "default", "default"]))
    metrics = ApiMetrics()
    _refresh(metrics, fresh_redis.url, ("default", "email", "reports"))
    assert _value(metrics, "tasklane_queue_waiting", queue="default") == 3
    assert _value(metrics, "tasklane_queue_reserved", queue="default") == 1
    assert _value(metrics, "tasklane_queue_waiting", queue="email") == 1
    # An empty queue is exported as 0, so "no backlog" and "no data" differ.
    assert _value(metrics, "tasklane_queue_waiting", queue="reports") == 0
    text = generate_latest(metrics.registry).decode()
    assert 'tasklane_queue_waiting{queue="default"} 3.0' in text

    client.delete("default", f"default{PRIORITY_SEPARATOR}3")
    _refresh(metrics, fresh_redis.url, ("default", "email", "reports"))
    assert _value(metrics, "tasklane_queue_waiting", queue="default") == 0
    client.close()


def test_unreachable_redis_drops_the_gauges(fresh_redis: RedisServer) -> None:
    metrics = ApiMetrics()
    _refresh(metrics, fresh_redis.url, ("default",))
    assert _value(metrics, "tasklane_queue_waiting", queue="default") == 0
    _refresh(metrics, f"redis://127.0.0.1:{free_port()}/0", ("default",))
    assert _value(metrics, "tasklane_queue_waiting", queue="default") is None
    assert _value(metrics, "tasklane_queue_backlog_read_failures_total") == 1


def test_tasks_given_back_are_counted_from_redis(fresh_redis: RedisServer) -> None:
    client = redis.Redis.from_url(fresh_redis.url)
    client.hset(REQUEUED_TOTAL_KEY, "reclaimed\ndefault", 4)
    client.hincrby(REQUEUED_TOTAL_KEY, "shutdown\nemail", 1)
    metrics = ApiMetrics()
    _refresh(metrics, fresh_redis.url, ("default", "email"))
    name = "tasklane_tasks_requeued_total"
    assert _value(metrics, name, queue="default", reason="reclaimed") == 4
    assert _value(metrics, name, queue="email", reason="shutdown") == 1
    # Every queue and reason is there from zero, so the first one shows as a rise.
    assert _value(metrics, name, queue="default", reason="shutdown") == 0
    assert _value(metrics, name, queue="email", reason="interrupted") == 0
    text = generate_latest(metrics.registry).decode()
    assert "# TYPE tasklane_tasks_requeued_total counter" in text
    client.close()


def test_redis_memory_is_read_and_left_out_when_unreachable(tmp_path: Path) -> None:
    metrics = ApiMetrics()

    def refresh(url: str) -> None:
        async def go() -> None:
            client = aioredis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            try:
                await metrics.refresh_redis_memory(client)
            finally:
                await client.aclose()

        asyncio.run(go())

    with RedisServer(free_port(), tmp_path / "redis", maxmemory="64mb") as server:
        refresh(server.url)
    assert _value(metrics, "tasklane_redis_memory_max_bytes") == 64 * 1024 * 1024
    used = _value(metrics, "tasklane_redis_memory_used_bytes")
    assert used is not None and 0 < used < 64 * 1024 * 1024
    refresh(server.url)  # stopped now
    assert _value(metrics, "tasklane_redis_memory_used_bytes") is None
    assert _value(metrics, "tasklane_redis_memory_max_bytes") is None
