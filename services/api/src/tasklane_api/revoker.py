"""Revoking through Celery's control channel: a broadcast every live worker hears.
(Submissions do not go through Celery's producer: see celery_message and TaskStore.accept.)"""

from __future__ import annotations

from celery import Celery
from starlette.concurrency import run_in_threadpool


class Revoker:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def _revoke(self, task_id: str) -> None:
        # terminate: a task already running is stopped, not just skipped if not yet started.
        self.app.control.revoke(task_id, terminate=True, signal="SIGTERM")

    async def revoke(self, task_id: str) -> None:
        await run_in_threadpool(self._revoke, task_id)
