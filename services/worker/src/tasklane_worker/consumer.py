"""The worker's consumer: Celery's, with two changes that keep it responsive when Redis goes
away or its connection goes silent.

- Reconnection attempts at most RECONNECT_MAX_S apart. Celery waits 2, 4, 6, ... up to 30
  seconds between them, so after a long outage a worker could sit idle for half a minute after
  Redis is back; an attempt costs one TCP connect.
- Worker heartbeat events (what celery-exporter's celery_worker_up reads) are sent once each.
  Celery retries each one without limit on the consumer's event loop: on a connection that
  went silent every retry waits out a socket timeout, the loop never turns, and the worker
  notices neither the dead fetch connection nor a stop. A heartbeat that cannot be sent is
  dropped, and after a failure the next attempt waits QUIET_AFTER_FAILURE_S.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any, ClassVar

import redis
from celery.worker import heartbeat
from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.consumer import heart
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

RECONNECT_MAX_S = 2.0
QUIET_AFTER_FAILURE_S = 10.0  # no heartbeat attempt this long after one failed


class OneShotHeart(heartbeat.Heart):  # type: ignore[misc]
    quiet_until = 0.0

    def _send(self, event: str, retry: bool = True) -> Any:
        if event == "worker-heartbeat" and time.monotonic() < self.quiet_until:
            return None
        try:
            return super()._send(event, retry=False)
        except (OperationalError, redis.RedisError, OSError) as exc:
            # Each attempt on a dead connection waits out a socket timeout on the event loop.
            self.quiet_until = time.monotonic() + QUIET_AFTER_FAILURE_S
            log.debug("%s not sent: %r", event, exc)
            return None


class Heart(heart.Heart):  # type: ignore[misc]
    def start(self, c: Any) -> None:
        c.heart = OneShotHeart(c.timer, c.event_dispatcher, self.heartbeat_interval)
        c.heart.start()


class Consumer(CeleryConsumer):  # type: ignore[misc]
    class Blueprint(CeleryConsumer.Blueprint):  # type: ignore[misc]
        default_steps: ClassVar[list[str]] = [
            f"{__name__}:Heart" if step == "celery.worker.consumer.heart:Heart" else step
            for step in CeleryConsumer.Blueprint.default_steps
        ]

    def ensure_connected(self, conn: Any) -> Any:
        conn.ensure_connection = partial(
            conn.ensure_connection,
            interval_start=1.0,
            interval_step=1.0,
            interval_max=RECONNECT_MAX_S,
        )
        return super().ensure_connected(conn)
