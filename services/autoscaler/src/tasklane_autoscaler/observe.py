"""One look at a WorkerAutoscaler's queues: backlog through the contract, plus the mean age of
the reserved tasks. Blocking Redis calls; the operator runs this in a thread."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from tasklane_autoscaler.task_ages import mean_running_age
from tasklane_contract.backlog import Backlog, read_backlog


@dataclass(frozen=True)
class QueueReading:
    backlogs: dict[str, Backlog]
    running_mean_age_s: float | None

    @property
    def waiting(self) -> int:
        return sum(b.waiting for b in self.backlogs.values())

    @property
    def reserved(self) -> int:
        return sum(b.reserved for b in self.backlogs.values())


def read_queues(client: redis.Redis, queues: Sequence[str]) -> QueueReading:
    backlogs = read_backlog(client, queues)
    age = mean_running_age(client, queues, now=time.time())
    return QueueReading(backlogs=backlogs, running_mean_age_s=age)
