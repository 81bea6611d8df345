"""The one Celery configuration every tasklane process uses (API, worker, beat).

Reliability first: a task is acknowledged only after it ran (every starter task is idempotent),
a worker that dies gives its tasks back, and no worker hoards messages another could run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery
from kombu.entity import Exchange, Queue

from tasklane_contract.catalog import CATALOG
from tasklane_contract.queues import ALL_QUEUES, DEFAULT
from tasklane_contract.redis_clients import celery_url, sentinel_transport_options
from tasklane_contract.redis_transport import TRANSPORT
from tasklane_contract.result_backend import RedisResultBackend, SentinelResultBackend
from tasklane_contract.sentinel_transport import SENTINEL_TRANSPORT
from tasklane_contract.settings import Settings

# A connection whose peer vanished without closing it (a node gone, packets dropped) gives no
# error by itself. kombu drops a fetch whose reply is overdue by brpop_timeout (1 s) plus the
# health check interval, and redis-py pings a connection idle that long before using it; a
# command waits at most socket_timeout, which is also how long a dead connection can hold up
# the worker's event loop per command (Redis answers in milliseconds; an AOF fsync stall of
# seconds is the slowest it gets); keepalive probes end an idle dead socket.
DEAD_CONNECTION_DETECTION = {
    "health_check_interval": 3,
    "socket_timeout": 3,
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
}


def task_queues(names: tuple[str, ...] = ALL_QUEUES) -> list[Queue]:
    # Exchange and routing key named after the queue: a message's routing key is its queue.
    return [
        Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]
        for name in names
    ]


def task_routes() -> dict[str, dict[str, str]]:
    return {
        spec.name: {"queue": spec.queue, "routing_key": spec.queue} for spec in CATALOG.values()
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    # With sentinels: the sentinels' URLs, and the master's name in the transport options.
    sentinel_options = sentinel_transport_options(settings)
    return {
        "broker_url": celery_url(settings),
        # kombu's Redis transport with one round trip per fetched task (see redis_transport),
        # its connections sent to the master the sentinels name when there are sentinels.
        "broker_transport": SENTINEL_TRANSPORT if sentinel_options else TRANSPORT,
        "result_backend": celery_url(settings),
        "result_backend_transport_options": sentinel_options,
        # JSON only: a pickled message could run code on the worker.
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # At-least-once: ack after the task ran; a killed worker's tasks go back to the queue.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Take a message only when a process is free, so idle workers get the backlog.
        "worker_prefetch_multiplier": 1,
        "worker_disable_prefetch": True,
        # A reserved message comes back after this long unacknowledged (a lost worker).
        # kombu looks for such messages only every interval * throttle seconds (100 s by
        # default); one cheap scan every few seconds brings a dead worker's tasks back sooner.
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout_s,
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout_s // 4)),
            "unacked_restore_throttle": 1,
            # How long a task's "requeued" marker is kept (redis_transport, reservations).
            "requeued_marker_s": settings.result_expires_s,
            **DEAD_CONNECTION_DETECTION,
            **sentinel_options,
        },
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # keep reconnecting through a Redis restart
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "result_expires": timedelta(seconds=settings.result_expires_s),
        "result_extended": True,  # the stored result names its task
        # Workers store STARTED themselves, together with their revoke check (tasklane_worker
        # .execution): Celery's own tracking would be a second round trip per task.
        "task_track_started": False,
        # celery-exporter needs sent events from producers and task events from workers.
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        # SIGTERM is handled by the worker (tasklane_worker.shutdown): tasks get this long, then
        # go back to their queue. Celery's soft shutdown timeout covers SIGINT and SIGQUIT.
        "worker_soft_shutdown_timeout": settings.shutdown_timeout_s,
        "worker_enable_soft_shutdown_on_idle": True,
        "task_queues": task_queues(),
        "task_default_queue": DEFAULT,
        "task_default_exchange": DEFAULT,
        "task_default_routing_key": DEFAULT,
        "task_create_missing_queues": False,
        "task_routes": task_routes(),
        # The result store's connections, with the same dead-connection detection as the
        # broker's (a task process waits for a state it could not store, see result_backend).
        "redis_socket_connect_timeout": DEAD_CONNECTION_DETECTION["socket_connect_timeout"],
        "redis_socket_timeout": DEAD_CONNECTION_DETECTION["socket_timeout"],
        "redis_socket_keepalive": True,
        "redis_retry_on_timeout": True,
        "redis_backend_health_check_interval": DEAD_CONNECTION_DETECTION["health_check_interval"],
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
    }


def create_celery_app(settings: Settings, main: str = "tasklane") -> Celery:
    app = Celery(main, set_as_current=False)
    app.conf.update(celery_config(settings))
    # Celery's Redis backend at the configured URL, each state stored in one round trip.
    app.backend_cls = SentinelResultBackend if settings.redis_sentinels else RedisResultBackend
    return app
