"""Worker step: the lease keeper of this worker process, and the sweep it runs."""

from __future__ import annotations

from typing import Any

from celery import bootsteps, signals

from tasklane_contract import leases
from tasklane_contract.leases import LeaseKeeper
from tasklane_worker.reclaim import ReclaimSweep

CONF_KEY = "tasklane_lease"  # where the worker app tells the step (lease seconds, marker seconds)


class Lease(bootsteps.StartStopStep):  # type: ignore[misc]
    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        app = worker.app
        lease_s, marker_s = app.conf[CONF_KEY]
        # Made before the pool forks, so task processes know the keeper exists; only this
        # process's thread renews.
        self.keeper = LeaseKeeper(app.conf.broker_url, lease_s, worker.hostname)
        self.keeper.on_tick = ReclaimSweep(app, marker_s)
        leases.install(self.keeper)
        signals.worker_shutdown.connect(self._on_worker_shutdown, weak=False)

    def start(self, worker: Any) -> None:
        self.keeper.start()

    def _on_worker_shutdown(self, **_: Any) -> None:
        # After the consumer closed its channels (their leases ended with what they gave back).
        self.keeper.stop()
        leases.install(None)
