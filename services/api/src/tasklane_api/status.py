"""Turning what Redis holds about a task (our submission record, Celery's result meta) into
the status a client reads. Pure: tests call it with plain dicts."""

from __future__ import annotations

from typing import Any

from tasklane_api.schemas import Requeued, TaskError, TaskStatus
from tasklane_contract.records import PROGRESS_STATE, Submission

FINISHED_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
ERROR_STATES = frozenset({"FAILURE", "RETRY", "REVOKED"})
UNKNOWN = "unknown"  # a foreign task's name or queue, when its stored result does not say


def error_from(result: Any) -> TaskError | None:
    """Celery stores an exception as {"exc_type", "exc_message", "exc_module"}."""
    if not isinstance(result, dict) or "exc_type" not in result:
        return None
    message = result.get("exc_message", "")
    if isinstance(message, list | tuple):
        message = " ".join(str(part) for part in message)
    return TaskError(type=str(result["exc_type"]), message=str(message))


def requeued_from(marker: dict[str, Any] | None) -> Requeued | None:
    if not isinstance(marker, dict):
        return None
    try:
        return Requeued.model_validate(marker)
    except ValueError:
        return None


def task_status(
    submission: Submission, meta: dict[str, Any] | None, requeued: dict[str, Any] | None = None
) -> TaskStatus:
    return _status(
        submission.id, submission.name, submission.queue, submission.submitted_at, meta, requeued
    )


def foreign_task_status(
    task_id: str, meta: dict[str, Any], requeued: dict[str, Any] | None = None
) -> TaskStatus:
    """A task another producer sent straight to a queue: the API holds no record of it, only
    the result a worker stored, which names the task and the queue it came from."""
    name, queue = meta.get("name") or UNKNOWN, meta.get("queue") or UNKNOWN
    return _status(task_id, str(name), str(queue), None, meta, requeued)


def status_of(
    task_id: str,
    submission: Submission | None,
    meta: dict[str, Any] | None,
    requeued: dict[str, Any] | None = None,
) -> TaskStatus | None:
    """The task's status, or None for an id nobody submitted and no worker ran."""
    if submission is not None:
        return task_status(submission, meta, requeued)
    if meta is not None:
        return foreign_task_status(task_id, meta, requeued)
    return None


def _status(
    task_id: str,
    name: str,
    queue: str,
    submitted_at: float | None,
    meta: dict[str, Any] | None,
    requeued: dict[str, Any] | None,
) -> TaskStatus:
    if meta is None:  # accepted, not yet started by any worker (or given back to wait again)
        return TaskStatus(
            id=task_id,
            name=name,
            queue=queue,
            status="PENDING",
            submitted_at=submitted_at,
            requeued=requeued_from(requeued),
        )
    state = str(meta.get("status", "PENDING"))
    raw = meta.get("result")
    progress: float | None = None
    progress_message: str | None = None
    result: Any = None
    if state == PROGRESS_STATE and isinstance(raw, dict):
        progress = float(raw.get("progress", 0.0))
        progress_message = raw.get("message")
    elif state == "SUCCESS":
        result, progress = raw, 100.0
    return TaskStatus(
        id=task_id,
        name=name,
        queue=queue,
        status=state,
        result=result,
        error=error_from(raw) if state in ERROR_STATES else None,
        progress=progress,
        progress_message=progress_message,
        retries=int(meta.get("retries") or 0),
        submitted_at=submitted_at,
        finished_at=meta.get("date_done") if state in FINISHED_STATES else None,
        requeued=requeued_from(requeued),
    )
