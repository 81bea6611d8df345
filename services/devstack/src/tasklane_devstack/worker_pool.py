"""Worker processes the local autoscaler grows and shrinks (`TASKLANE_AUTOSCALE=1`)."""

from __future__ import annotations

import itertools

from tasklane_devstack.supervisor import Child, Supervisor


class WorkerPool:
    """Workers named worker1, worker2, ... (Celery node `worker<n>@<host>`), oldest first."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.active: dict[str, Child] = {}
        self._numbers = itertools.count(1)

    def names(self) -> list[str]:
        return list(self.active)

    def start(self) -> None:
        name = f"worker{next(self._numbers)}"
        self.active[name] = self.supervisor.start(name, "tasklane_worker", f"--hostname={name}@%h")

    def stop(self, name: str) -> None:
        """Retire one worker: it finishes its running tasks before exiting."""
        child = self.active.pop(name, None)
        if child is not None:
            self.supervisor.retire(child)
