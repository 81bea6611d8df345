"""The queues tasklane routes to. Each queue is its own direct exchange and routing key, so a
message's routing key always names its queue (the backlog reader relies on that)."""

from __future__ import annotations

DEFAULT = "default"
EMAIL = "email"
REPORTS = "reports"
MAINTENANCE = "maintenance"

ALL_QUEUES: tuple[str, ...] = (DEFAULT, EMAIL, REPORTS, MAINTENANCE)

# Celery's own default queue: where a producer with Celery's stock configuration sends a task
# when it names no queue. No tasklane route leads there and no pool consumes it; its backlog is
# read all the same, so such messages show in /v1/queues and in the alerts instead of waiting
# unseen.
CELERY_DEFAULT = "celery"
OBSERVED_QUEUES: tuple[str, ...] = (*ALL_QUEUES, CELERY_DEFAULT)
