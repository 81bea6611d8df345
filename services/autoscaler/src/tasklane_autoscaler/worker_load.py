"""How many tasks each Celery worker runs now, asked over the broker (`inspect active`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# How long an answer may be reused to hold a scale-down or count the tasks of leaving pods. A
# scale-down that goes ahead asks again: the pods it marks to go first are picked from a fresh
# answer. Without reuse, a scale-down held for long tasks would broadcast to every worker on
# every poll.
ANSWER_REUSE_S = 10.0


def running_tasks_by_worker(app: Any, timeout_s: float) -> dict[str, int]:
    """`{"celery@<host>": running task count}` for every worker that answered in time.

    Blocking (it waits for replies); call it from a thread. Workers that do not answer are
    missing from the result rather than an error: a scale-down must not wait on a stuck pod.
    """
    replies = app.control.inspect(timeout=timeout_s).active() or {}
    return {worker: len(tasks or []) for worker, tasks in replies.items()}


@dataclass
class LastAnswer:
    """The last answer of `running_tasks_by_worker`, and when it came."""

    running: dict[str, int] = field(default_factory=dict)
    at: float = -math.inf

    def within(self, now: float, max_age_s: float) -> dict[str, int] | None:
        """The answer if it is younger than `max_age_s`, else None (ask again; 0: always)."""
        return self.running if now - self.at < max_age_s else None

    def remember(self, now: float, running: dict[str, int]) -> None:
        self.running, self.at = running, now
