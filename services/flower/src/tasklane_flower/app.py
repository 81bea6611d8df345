"""Flower's Celery app: the contract's configuration, with kombu's own Redis transport, as the
process's default app."""

from __future__ import annotations

from celery import Celery

from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.settings import Settings


def create_flower_app(settings: Settings) -> Celery:
    """The app every tasklane process uses (JSON only, the queues and routes, the result
    backend, the Redis URL and password), except for the transport class.

    tasklane's transport changes only how a worker fetches and acknowledges task messages.
    Flower takes none: its event and control-reply consumers are no-ack ones, which tasklane's
    transport leaves on kombu's path. Named by the URL's `redis://` scheme instead of by a class
    path, the broker is one Flower's Broker page and `/api/queues/length` know how to read."""
    app = create_celery_app(settings, main="tasklane_flower")
    app.conf.broker_transport = None
    # Flower reads results with `AsyncResult(id)` and no app, from its request threads: this app
    # must be the process's default one, or that reads an app with no result backend (503).
    app.set_default()
    return app
