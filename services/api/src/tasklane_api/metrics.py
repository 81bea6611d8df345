"""The API's Prometheus metrics, on a registry of its own (one per app, so tests can build
several apps in one process). prometheus-client directly: a few metrics and one small ASGI
middleware do not justify an instrumentation framework on the hot path."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasklane_api.redis_memory import RedisMemory, read_redis_memory
from tasklane_contract.backlog import read_backlog_async
from tasklane_contract.reservations import REQUEUE_REASONS, REQUEUED_TOTAL_KEY

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tasklane_api_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tasklane_api_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.submitted = Counter(
            "tasklane_api_tasks_submitted_total",
            "Tasks accepted and published, by task name and queue.",
            ["task", "queue"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "tasklane_api_tasks_rejected_total",
            "Task submissions refused, by task name and reason.",
            ["task", "reason"],
            registry=self.registry,
        )
        # The backlog as the contract counts it (every priority list, plus reserved messages):
        # celery-exporter's celery_queue_length reads only the bare list and undercounts.
        # Read on each scrape, so every API replica exports the same values (take max()).
        self.waiting = Gauge(
            "tasklane_queue_waiting",
            "Tasks waiting in the queue's lists (every priority), not yet taken by a worker.",
            ["queue"],
            registry=self.registry,
        )
        self.reserved = Gauge(
            "tasklane_queue_reserved",
            "Tasks taken by a worker from the queue and not yet acknowledged.",
            ["queue"],
            registry=self.registry,
        )
        self.requeued = RequeuedTasks()
        self.registry.register(self.requeued)
        self.backlog_read_failures = Counter(
            "tasklane_queue_backlog_read_failures_total",
            "Scrapes whose backlog could not be read from Redis (the gauges were left out).",
            registry=self.registry,
        )
        self.redis_memory = RedisMemoryCollector()
        self.registry.register(self.redis_memory)

    async def refresh_backlog(self, client: aioredis.Redis, queues: Iterable[str]) -> None:
        """Set the backlog gauges from Redis; on a Redis error drop them rather than export
        stale numbers (an absent series shows as a gap, a stale one as a lie)."""
        queue_list = list(queues)
        try:
            backlog = await read_backlog_async(client, queue_list)
            requeued = await client.hgetall(REQUEUED_TOTAL_KEY)
        except (RedisError, OSError):
            self.backlog_read_failures.inc()
            self.waiting.clear()
            self.reserved.clear()
            self.requeued.counts = {}
            return
        # Every queue and reason from zero, so a first give-back shows as a rise.
        zero = dict.fromkeys(itertools.product(queue_list, REQUEUE_REASONS), 0.0)
        self.requeued.counts = {**zero, **requeued_counts(requeued)}
        for queue, reading in backlog.items():
            self.waiting.labels(queue).set(reading.waiting)
            self.reserved.labels(queue).set(reading.reserved)

    async def refresh_redis_memory(self, client: aioredis.Redis) -> None:
        """Read Redis' memory for the scrape; unreadable, its series are left out."""
        try:
            self.redis_memory.reading = await read_redis_memory(client)
        except (RedisError, OSError):
            self.redis_memory.reading = None


class RedisMemoryCollector(Collector):
    """Redis' memory against its maxmemory, as read on the last scrape. Read by the API rather
    than by a redis_exporter beside Redis: no other image, and an external Redis is covered
    too. Every API replica exports the same values (take max())."""

    def __init__(self) -> None:
        self.reading: RedisMemory | None = None

    def collect(self) -> Iterator[Metric]:
        reading = self.reading
        if reading is None:
            return
        yield GaugeMetricFamily(
            "tasklane_redis_memory_used_bytes",
            "Memory Redis uses (INFO memory used_memory).",
            value=reading.used_bytes,
        )
        yield GaugeMetricFamily(
            "tasklane_redis_memory_max_bytes",
            "Redis' maxmemory, past which it refuses writes (noeviction); 0 means no limit.",
            value=reading.max_bytes,
        )


def requeued_counts(stored: dict[Any, Any]) -> dict[tuple[str, str], float]:
    """{(queue, reason): count} from the hash the reservation scripts count in."""
    counts = {}
    for field, value in stored.items():
        text = field.decode() if isinstance(field, bytes) else str(field)
        reason, _, queue = text.partition("\n")
        counts[(queue, reason)] = float(value)
    return counts


class RequeuedTasks(Collector):
    """Tasks workers gave back to their queue before they finished, counted in Redis by the
    give-back scripts (workers have no /metrics) and read on each scrape."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], float] = {}

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "tasklane_tasks_requeued",
            "Tasks given back to their queue before they finished, by queue and reason "
            "(reclaimed: their worker's lease expired; shutdown: their worker was stopped; "
            "interrupted: their process died or their worker lost Redis).",
            labels=["queue", "reason"],
        )
        for (queue, reason), count in sorted(self.counts.items()):
            family.add_metric([queue, reason], count)
        yield family


class RequestMetricsMiddleware:
    """Counts and times every HTTP request under its route template, not its raw path, so
    task ids do not explode the label set."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(template, method, str(status)).inc()
            self.metrics.latency.labels(template, method).observe(time.perf_counter() - started)
