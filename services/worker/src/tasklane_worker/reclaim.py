"""Giving back the tasks of workers whose lease expired, from every live worker.

Each worker's lease keeper calls `ReclaimSweep` after renewing its leases. The sweep runs only
when it cannot mistake a live worker for a dead one: this worker has renewed its own leases
without a break for a whole lease length, and Redis itself has been up at least that long.
After a Redis outage or restart every lease may look expired (an AOF replays absolute expiry
times), and every live worker renews within a lease of reconnecting, before anyone sweeps.
The sweep itself is one Lua script (tasklane_contract.reservations.RECLAIM_EXPIRED), run at
most once per renewal interval across the fleet.

For celery-exporter, each task given back is reported as the `task-rejected` event (with
`requeue=True`) of the worker that lost it: every run that sent `task-started` ends in one of
succeeded, failed, retried, revoked or rejected.
"""

from __future__ import annotations

import logging

from celery import Celery

from tasklane_contract.leases import LeaseKeeper
from tasklane_contract.reservations import GivenBack, holder_node, reclaim_expired

log = logging.getLogger(__name__)


def may_sweep(keeper: LeaseKeeper, redis_uptime_s: float) -> bool:
    """Only a worker that has held its leases for a lease length, on a Redis up that long."""
    return keeper.held_continuously() and redis_uptime_s >= keeper.lease_s


class ReclaimSweep:
    def __init__(self, app: Celery, marker_s: int) -> None:
        self.app = app
        self.marker_s = marker_s

    def __call__(self, keeper: LeaseKeeper) -> None:
        sweeper = keeper.any_holder()
        if sweeper is None:  # this worker reserves nothing yet
            return
        client = keeper.client
        if not may_sweep(keeper, float(client.info("server")["uptime_in_seconds"])):
            return
        interval_ms = max(1, int(keeper.interval_s * 1000))
        given = reclaim_expired(client, sweeper, self.marker_s, interval_ms)
        if given:
            self.report(given)

    def report(self, given: list[GivenBack]) -> None:
        for lost in sorted({g.holder for g in given}):
            tasks = [g for g in given if g.holder == lost]
            log.warning(
                "gave back %d task(s) of %s, whose lease expired: %s",
                sum(g.requeued for g in tasks),
                lost,
                ", ".join(g.task_id + ("" if g.requeued else " (already finished)") for g in tasks),
            )
        with self.app.connection_for_write() as connection:
            for lost in sorted({g.holder for g in given}):
                dispatcher = self.app.events.Dispatcher(
                    connection, hostname=holder_node(lost), enabled=True, buffer_while_offline=False
                )
                for g in given:
                    if g.holder == lost and g.requeued and g.task_id:
                        dispatcher.send("task-rejected", uuid=g.task_id, requeue=True)
                dispatcher.close()
