"""How long the reserved tasks of some queues have been running, and which have finished.

kombu's Redis transport keeps, beside the `unacked` hash (delivery tag -> message), the sorted
set `unacked_index` (delivery tag -> delivery time, Unix seconds). Their mean age is what the
policy turns into a task-duration estimate; the tags that left the hash between two polls are
the tasks acknowledged meanwhile, which the policy turns into another, by throughput.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tasklane_contract.backlog import reserved_queue

UNACKED_INDEX_KEY = "unacked_index"


def mean_running_age(
    tags: frozenset[str], delivered_at: Iterable[tuple[bytes | str, float]], now: float
) -> float | None:
    """Mean seconds since delivery of the reserved tasks with these delivery tags (None if
    none), from the `unacked_index` entries as Redis returned them."""
    delivered = {_text(tag): float(score) for tag, score in delivered_at}
    ages = [now - delivered[tag] for tag in tags if tag in delivered]
    return sum(ages) / len(ages) if ages else None


def delivered_from(unacked: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """The queue each reserved task was delivered from, by delivery tag: every `unacked` payload
    parsed once, for both the counts and the tags (unreadable entries are left out)."""
    queue_of = {}
    for tag, payload in unacked.items():
        queue = reserved_queue(payload)
        if queue is not None:
            queue_of[_text(tag)] = queue
    return queue_of


def reserved_tags(queue_of: Mapping[str, str], queues: Iterable[str]) -> frozenset[str]:
    """The delivery tags of the tasks reserved from `queues` (`queue_of`: `delivered_from`)."""
    wanted = set(queues)
    return frozenset(tag for tag, queue in queue_of.items() if queue in wanted)


def finished_since(before: frozenset[str] | None, now: frozenset[str]) -> int | None:
    """How many of the tasks reserved at the previous poll were acknowledged since (their tag
    left `unacked`); None on the first poll. A task a dead worker's visibility timeout put back
    counts too: it left its slot."""
    if before is None:
        return None
    return len(before - now)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
