"""Redis keys tasklane writes beside Celery's own, and the states it adds.

The API records every submission so that an id nobody submitted answers 404 (Celery alone
reports PENDING forever); workers check the revoked marker so a revoke reaches even the workers
that start after it; the cleanup task trims the index.
"""

from __future__ import annotations

from pydantic import BaseModel

PROGRESS_STATE = "PROGRESS"  # custom Celery state a task sets while it reports progress
SUBMITTED_INDEX_KEY = "tasklane:submitted"  # sorted set: task id scored by submission time
RESULT_KEY_PREFIX = "celery-task-meta-"  # Celery's Redis result backend's
REQUEUED_KEY_PREFIX = "tasklane:requeued:"
REVOKED_KEY_PREFIX = "tasklane:revoked:"


def submission_key(task_id: str) -> str:
    return f"tasklane:task:{task_id}"


def idempotency_key(task_name: str, key: str) -> str:
    return f"tasklane:idempotency:{task_name}:{key}"


def revoked_key(task_id: str) -> str:
    return REVOKED_KEY_PREFIX + task_id


def requeued_key(task_id: str) -> str:
    """Why and how often a task went back to its queue before it finished (JSON
    {"reason", "at", "times"}), written by tasklane_contract.reservations' scripts."""
    return REQUEUED_KEY_PREFIX + task_id


def result_key(task_id: str) -> str:
    """Where Celery's Redis result backend keeps a task's state and result."""
    return RESULT_KEY_PREFIX + task_id


class Submission(BaseModel):
    """What the API stores about an accepted task, for the life of its result."""

    id: str
    name: str
    queue: str
    submitted_at: float


class Progress(BaseModel):
    """The meta a task stores with PROGRESS_STATE."""

    progress: float  # 0-100
    message: str | None = None
