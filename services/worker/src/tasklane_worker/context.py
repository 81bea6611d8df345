"""What an implementation may ask of the running task, without seeing Celery."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from tasklane_contract.settings import Settings

# Storing progress is a Redis write; at most this often keeps long loops cheap.
PROGRESS_MIN_INTERVAL_S = 0.2


@dataclass
class TaskContext:
    task_id: str
    attempt: int  # 0 on the first run, +1 per retry
    store_progress: Callable[[float, str | None], None]
    redis: redis.Redis  # the worker's shared connection pool, for tasks that keep state
    settings: Settings
    _last_progress_at: float = field(default=0.0, init=False)

    def report_progress(self, percent: float, message: str | None = None) -> None:
        """Publish progress (0-100) for the API to read; calls closer than
        PROGRESS_MIN_INTERVAL_S apart are dropped, except 100."""
        now = time.monotonic()
        if percent < 100 and now - self._last_progress_at < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_progress_at = now
        self.store_progress(max(0.0, min(100.0, percent)), message)
