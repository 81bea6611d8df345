"""A file the worker touches from its consumer loop, so a liveness probe can tell a hung
worker (loop stuck, file ageing) from a busy one (loop turning while tasks run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from celery import bootsteps

HEARTBEAT_INTERVAL_S = 10.0
CONF_KEY = "tasklane_heartbeat_file"  # where the worker app tells the step its path


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


class HeartbeatFile(bootsteps.StartStopStep):  # type: ignore[misc]
    """Consumer step: touch the heartbeat file on the consumer's own timer."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer_ref: Any = None

    def start(self, parent: Any) -> None:
        configured = parent.app.conf.get(CONF_KEY)
        if not configured:
            return
        path = Path(configured)
        touch(path)
        self.timer_ref = parent.timer.call_repeatedly(HEARTBEAT_INTERVAL_S, touch, (path,))

    def stop(self, parent: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None
