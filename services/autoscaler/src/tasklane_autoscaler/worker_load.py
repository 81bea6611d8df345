"""How many tasks each Celery worker runs now, asked over the broker (`inspect active`)."""

from __future__ import annotations

from typing import Any


def running_tasks_by_worker(app: Any, timeout_s: float) -> dict[str, int]:
    """`{"celery@<host>": running task count}` for every worker that answered in time.

    Blocking (it waits for replies); call it from a thread. Workers that do not answer are
    missing from the result rather than an error: a scale-down must not wait on a stuck pod.
    """
    replies = app.control.inspect(timeout=timeout_s).active() or {}
    return {worker: len(tasks or []) for worker, tasks in replies.items()}
