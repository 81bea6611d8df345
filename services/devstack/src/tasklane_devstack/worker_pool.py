"""Worker processes the local autoscaler grows and shrinks (`TASKLANE_AUTOSCALE=1`)."""

from __future__ import annotations

import itertools

from tasklane_devstack.supervisor import Child, Supervisor


class WorkerPool:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.active: list[Child] = []
        self._numbers = itertools.count(1)

    def count(self) -> int:
        return len(self.active)

    def start(self) -> None:
        name = f"worker{next(self._numbers)}"
        child = self.supervisor.start(name, "tasklane_worker", f"--hostname={name}@%h")
        self.active.append(child)

    def stop(self) -> None:
        """The newest worker goes first; it finishes its running tasks before exiting."""
        if self.active:
            self.supervisor.retire(self.active.pop())
