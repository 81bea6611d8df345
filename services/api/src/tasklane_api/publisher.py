"""Sending a task by name through Celery: the API never imports worker code."""

from __future__ import annotations

from typing import Any

from celery import Celery
from starlette.concurrency import run_in_threadpool

from tasklane_contract.records import Submission

# Fail fast while Redis is down: the client gets a 503 with Retry-After instead of a hang.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


class CeleryPublisher:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def _send(self, submission: Submission, arguments: dict[str, Any]) -> None:
        self.app.send_task(
            submission.name,
            kwargs=arguments,
            task_id=submission.id,
            queue=submission.queue,
            routing_key=submission.queue,
            retry_policy=PUBLISH_RETRY_POLICY,
        )

    async def publish(self, submission: Submission, arguments: dict[str, Any]) -> None:
        await run_in_threadpool(self._send, submission, arguments)

    def _revoke(self, task_id: str) -> None:
        # terminate: a task already running is stopped, not just skipped if not yet started.
        self.app.control.revoke(task_id, terminate=True, signal="SIGTERM")

    async def revoke(self, task_id: str) -> None:
        await run_in_threadpool(self._revoke, task_id)
