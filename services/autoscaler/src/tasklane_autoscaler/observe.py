"""One look at a WorkerAutoscaler's queues: backlog by the contract's rules (its queue lists, and
the queue an `unacked` entry came from), plus the delivery tags and mean age of the reserved
tasks, in one Redis round trip that reads and parses the `unacked` hash once. Blocking Redis
calls; the operator runs this in a thread."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from tasklane_autoscaler.task_ages import (
    UNACKED_INDEX_KEY,
    delivered_from,
    mean_running_age,
    reserved_tags,
)
from tasklane_contract.backlog import UNACKED_KEY, Backlog, combine, queue_lengths
from tasklane_contract.redis_clients import redis_client
from tasklane_contract.settings import Settings

# A reading that takes longer fails; the next poll tries again (on the master the sentinels
# name then, when there are sentinels).
READ_TIMEOUT_S = 5


@dataclass(frozen=True)
class QueueReading:
    backlogs: dict[str, Backlog]
    running_mean_age_s: float | None
    reserved_tags: frozenset[str] = frozenset()  # to tell, at the next poll, which finished

    @property
    def waiting(self) -> int:
        return sum(b.waiting for b in self.backlogs.values())

    @property
    def reserved(self) -> int:
        return sum(b.reserved for b in self.backlogs.values())


def backlog_client(settings: Settings) -> redis.Redis:
    """The client the operator reads the queues with, made once at startup."""
    return redis_client(settings, socket_timeout=READ_TIMEOUT_S)


def read_queues(client: redis.Redis, queues: Sequence[str]) -> QueueReading:
    pipe = client.pipeline(transaction=False)
    keys = queue_lengths(pipe, queues)
    pipe.hgetall(UNACKED_KEY)
    pipe.zrange(UNACKED_INDEX_KEY, 0, -1, withscores=True)
    *lengths, unacked, delivered_at = pipe.execute()
    queue_of = delivered_from(unacked)
    backlogs = combine(queues, dict(zip(keys, lengths, strict=True)), Counter(queue_of.values()))
    tags = reserved_tags(queue_of, queues)
    age = mean_running_age(tags, delivered_at, now=time.time())
    return QueueReading(backlogs=backlogs, running_mean_age_s=age, reserved_tags=tags)
