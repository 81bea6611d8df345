"""How long the reserved tasks of some queues have been running.

kombu's Redis transport keeps, beside the `unacked` hash (delivery tag -> message), the sorted
set `unacked_index` (delivery tag -> delivery time, Unix seconds). Their mean age is what the
policy turns into a task-duration estimate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tasklane_contract.backlog import reserved_queue

UNACKED_INDEX_KEY = "unacked_index"


def mean_running_age(
    unacked: Mapping[bytes | str, bytes | str],
    delivered_at: Iterable[tuple[bytes | str, float]],
    queues: Iterable[str],
    now: float,
) -> float | None:
    """Mean seconds since delivery of the tasks reserved from `queues` (None if none), from the
    `unacked` hash and the `unacked_index` entries as Redis returned them."""
    wanted = set(queues)
    delivered = {_text(tag): float(score) for tag, score in delivered_at}
    ages = [
        now - delivered[tag]
        for tag, payload in ((_text(t), p) for t, p in unacked.items())
        if reserved_queue(payload) in wanted and tag in delivered
    ]
    return sum(ages) / len(ages) if ages else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
