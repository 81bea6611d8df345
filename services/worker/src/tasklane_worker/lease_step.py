"""Worker step: the lease keeper of this worker process, and the sweep it runs."""

from __future__ import annotations

from typing import Any

from celery import bootsteps, signals

from tasklane_contract import leases
from tasklane_contract.leases import LeaseKeeper
from tasklane_contract.settings import Settings
from tasklane_worker.reclaim import ReclaimSweep

CONF_KEY = "tasklane_lease"  # where the worker app gives the step its settings


class Lease(bootsteps.StartStopStep):  # type: ignore[misc]
    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        app = worker.app
        settings: Settings = app.conf[CONF_KEY]
        # Made before the pool forks, so task processes know the keeper exists; only this
        # process's thread renews.
        self.keeper = LeaseKeeper(settings, settings.worker_lease_s, worker.hostname)
        self.keeper.on_tick = ReclaimSweep(app, settings.result_expires_s)
        leases.install(self.keeper)
        signals.worker_shutdown.connect(self._on_worker_shutdown, weak=False)

    def start(self, worker: Any) -> None:
        self.keeper.start()

    def _on_worker_shutdown(self, **_: Any) -> None:
        # After the consumer closed its channels (their leases ended with what they gave back).
        self.keeper.stop()
        leases.install(None)
