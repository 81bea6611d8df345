"""How long the reserved tasks of some queues have been running, from Redis.

kombu's Redis transport keeps, beside the `unacked` hash (delivery tag -> message), the sorted
set `unacked_index` (delivery tag -> delivery time, Unix seconds). Their mean age is what the
policy turns into a task-duration estimate.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from tasklane_contract.backlog import UNACKED_KEY, reserved_queue

UNACKED_INDEX_KEY = "unacked_index"


def mean_running_age(client: redis.Redis, queues: Iterable[str], now: float) -> float | None:
    """Mean seconds since delivery of the tasks reserved from `queues` (None if none)."""
    wanted = set(queues)
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(UNACKED_KEY)
    pipe.zrange(UNACKED_INDEX_KEY, 0, -1, withscores=True)
    unacked, index = pipe.execute()
    delivered = {_text(tag): float(score) for tag, score in index}
    ages = [
        now - delivered[tag]
        for tag, payload in ((_text(t), p) for t, p in unacked.items())
        if reserved_queue(payload) in wanted and tag in delivered
    ]
    return sum(ages) / len(ages) if ages else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
