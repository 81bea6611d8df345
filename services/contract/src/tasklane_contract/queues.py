"""The queues tasklane routes to. Each queue is its own direct exchange and routing key, so a
message's routing key always names its queue (the backlog reader relies on that)."""

from __future__ import annotations

DEFAULT = "default"
EMAIL = "email"
REPORTS = "reports"
MAINTENANCE = "maintenance"

ALL_QUEUES: tuple[str, ...] = (DEFAULT, EMAIL, REPORTS, MAINTENANCE)
