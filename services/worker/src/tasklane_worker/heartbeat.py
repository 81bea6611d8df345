"""The worker's heartbeat file (tasklane_contract.heartbeat), written from the consumer itself:
`consuming` on the consumer's timer while it is connected, `waiting-for-redis` on every turn of
its reconnection loop while Redis is away. A hung consumer writes neither and the file ages; a
worker waiting out an outage keeps it fresh."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from celery import bootsteps

from tasklane_contract import heartbeat
from tasklane_contract.heartbeat import WAITING_FOR_REDIS
from tasklane_worker.consumer import Consumer

HEARTBEAT_INTERVAL_S = 10.0
CONF_KEY = "tasklane_heartbeat_file"  # where the worker app tells the step its path
CONSUMING = "consuming"


def heartbeat_file(app: Any) -> Path | None:
    configured = app.conf.get(CONF_KEY)
    return Path(configured) if configured else None


class HeartbeatFile(bootsteps.StartStopStep):  # type: ignore[misc]
    """Consumer step: write `consuming` on the consumer's own timer."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer_ref: Any = None

    def start(self, parent: Any) -> None:
        path = heartbeat_file(parent.app)
        if path is None:
            return
        heartbeat.beat(path, CONSUMING)
        self.timer_ref = parent.timer.call_repeatedly(
            HEARTBEAT_INTERVAL_S, heartbeat.beat, (path, CONSUMING)
        )

    def stop(self, parent: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None


class HeartbeatConsumer(Consumer):
    """The worker's consumer (tasklane_worker.consumer), writing `waiting-for-redis` while it
    reconnects to the broker.

    Celery reconnects in `ensure_connected` through kombu's retry loop, which calls its
    `callback` after each failed attempt and every second of the wait before the next one:
    the one hook that fires while, and only while, that loop turns. The timer of
    HeartbeatFile does not run then (the consumer's event loop is not running)."""

    def ensure_connected(self, conn: Any) -> Any:
        path = heartbeat_file(self.app)
        if path is not None:
            conn.ensure_connection = _beating_while_retrying(conn.ensure_connection, path)
        return super().ensure_connected(conn)


def _beating_while_retrying(ensure_connection: Callable[..., Any], path: Path) -> Any:
    def wrapped(*args: Any, callback: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
        def each_turn() -> None:
            heartbeat.beat(path, WAITING_FOR_REDIS)
            if callback is not None:
                callback()

        return ensure_connection(*args, callback=each_turn, **kwargs)

    return wrapped
