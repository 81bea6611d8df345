"""The worker's Celery app: the shared configuration plus every implementation."""

from __future__ import annotations

from celery import Celery

from tasklane_contract.catalog import CATALOG
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings
from tasklane_worker import lease_step, shutdown
from tasklane_worker import tasks as _implementations  # noqa: F401  (registers them)
from tasklane_worker.event_batching import BatchedTaskEvents
from tasklane_worker.execution import register_task
from tasklane_worker.heartbeat import CONF_KEY, HeartbeatConsumer, HeartbeatFile
from tasklane_worker.registry import IMPLEMENTATIONS, consistency_problems


class ContractMismatch(RuntimeError):
    """The worker's implementations and the contract disagree: the worker must not start."""


def create_worker_app(settings: Settings) -> Celery:
    problems = consistency_problems(CATALOG, IMPLEMENTATIONS)
    if problems:
        raise ContractMismatch("worker and contract disagree:\n  " + "\n  ".join(problems))
    app = create_celery_app(settings, main="tasklane_worker")
    # Without a heartbeat file it is tasklane_worker.consumer's Consumer, unchanged.
    app.conf.worker_consumer = HeartbeatConsumer
    for name, spec in CATALOG.items():
        register_task(app, spec, IMPLEMENTATIONS[name], settings)
    app.conf[lease_step.CONF_KEY] = settings  # the lease and its Redis client (lease_step)
    app.steps["worker"].add(lease_step.Lease)
    app.steps["worker"].add(shutdown.HandBackOnStop)
    app.steps["consumer"].add(BatchedTaskEvents)
    if settings.worker_heartbeat_file is not None:
        app.conf[CONF_KEY] = str(settings.worker_heartbeat_file)
        app.steps["consumer"].add(HeartbeatFile)
    return app
