"""redbeat's scheduler, made to ride out Redis going away.

redbeat takes its lock once at start (blocking, in a `beat_init` handler) and extends it at
the top of every tick; any Redis error there ends the process with a traceback, and a Redis
not up yet at start ends it before the first tick. Here every tick does its own Redis work
inside one guard: it installs the schedule if that is not done yet, takes or extends the
lock (a beat that finds it held by another stands by and tries again each tick), then fires
what is due. When Redis is away the tick logs one line, writes the heartbeat as waiting, and
asks Celery's loop to call again after a backoff; nothing else changes, so the process stays.

What fires after an outage: redbeat keeps each entry's last run in Redis and fires an entry
when its next run after the last one has come, so all the runs that fell due while Redis was
away are one overdue run, fired once. A run's last-run time is written before its message is
sent (Celery's order): a send cut off by the outage loses that run rather than doubling it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from celery.beat import SchedulingError
from celery.signals import beat_init
from redbeat.schedulers import RedBeatScheduler, acquire_distributed_beat_lock, get_redis
from redis.exceptions import LockError
from redis.lock import Lock

from tasklane_beat.outage import Outage, describe, redis_away_cause
from tasklane_contract import heartbeat
from tasklane_contract.heartbeat import WAITING_FOR_REDIS

log = logging.getLogger("tasklane_beat")

CONF_KEY = "tasklane_beat_heartbeat_file"  # where the beat app tells the scheduler its path
FIRING = "firing"  # holds the lock and fires the schedule
STANDBY = "standby"  # another beat holds the lock


class OutageTolerantScheduler(RedBeatScheduler):  # type: ignore[misc]
    lock: Lock | None = None

    def __init__(self, app: Any, **kwargs: Any) -> None:
        # The lock is taken by the tick instead, so a beat started before Redis, or standing by
        # while another holds the lock, keeps its loop (and its heartbeat) going.
        beat_init.disconnect(acquire_distributed_beat_lock)
        self.schedule_installed = False
        configured = app.conf.get(CONF_KEY)
        self.heartbeat_path = Path(configured) if configured else None
        super().__init__(app, **kwargs)
        self.outage = Outage(max_wait_s=self.max_interval)
        self.standing_by = False

    def setup_schedule(self) -> None:
        """Deferred to the first tick that reaches Redis (called from Celery's __init__)."""

    def tick(self, **kwargs: Any) -> float:
        try:
            if not self.schedule_installed:
                super().setup_schedule()
                self.schedule_installed = True
            holding = self._hold_lock()
            interval = self._fire_due() if holding else self.max_interval
        except Exception as exc:
            cause = redis_away_cause(exc)
            if cause is None:
                raise
            wait_s = self.outage.attempt_failed(time.monotonic())
            log.warning(
                "beat: %s; attempt %d, next in %gs", describe(cause), self.outage.attempts, wait_s
            )
            self._beat(WAITING_FOR_REDIS)
            return wait_s
        ended = self.outage.end(time.monotonic())
        if ended is not None:
            log.warning(
                "beat: Redis is back after %.0fs and %d failed attempts", ended[1], ended[0]
            )
        self._beat(FIRING if holding else STANDBY)
        return float(interval)

    def _hold_lock(self) -> bool:
        """Keep the lock (extend it) or take it; False while another beat holds it."""
        if self.lock is not None:
            try:
                self.lock.extend(int(self.lock_timeout), replace_ttl=True)
                return True
            except LockError:
                # It expired while Redis was away (or with Redis' data): take it again if free.
                log.warning("beat: the schedule lock was lost; taking it again")
                self.lock = None
        lock = get_redis(self.app).lock(
            self.lock_key, timeout=self.lock_timeout, thread_local=False
        )
        if not lock.acquire(blocking=False):
            if not self.standing_by:
                log.info("beat: another beat holds the schedule lock; standing by")
                self.standing_by = True
            return False
        log.info("beat: Acquired lock")
        self.lock, self.standing_by = lock, False
        return True

    def _fire_due(self) -> float:
        remaining = [self.max_interval]
        for entry in self.schedule.values():
            next_time_to_run = self.maybe_due(entry, **self._maybe_due_kwargs)
            if next_time_to_run:
                remaining.append(next_time_to_run)
        return float(min(remaining))

    def maybe_due(self, entry: Any, **kwargs: Any) -> Any:
        # redbeat's logs any send error with its traceback and goes on; Redis being away is
        # left to the tick, which waits it out in one line.
        is_due, next_time_to_run = entry.is_due()
        if is_due:
            log.info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
            try:
                self.apply_async(entry, **kwargs)
            except SchedulingError as exc:
                if redis_away_cause(exc) is not None:
                    raise
                log.exception("Scheduler: Message Error: %s", exc)
        return next_time_to_run

    def _ensure_connected(self) -> Any:
        # Celery's retries forever inside the tick; a single attempt here leaves the waiting (and
        # the heartbeat) to the tick.
        return self.connection.ensure_connection(max_retries=0)

    def close(self) -> None:
        lock, self.lock = self.lock, None
        if lock is not None:
            try:
                if lock.owned():
                    lock.release()
                    log.info("beat: Released lock")
            except Exception as exc:
                cause = redis_away_cause(exc)
                if cause is None and not isinstance(exc, LockError):
                    raise
                log.warning(
                    "beat: the lock was not released (%s); it expires within %ss",
                    describe(cause) if cause else exc,
                    self.lock_timeout,
                )
        super().close()

    def _beat(self, state: str) -> None:
        if self.heartbeat_path is not None:
            heartbeat.beat(self.heartbeat_path, state)
