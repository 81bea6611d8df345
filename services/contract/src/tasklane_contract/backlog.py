"""How much work is waiting on each queue, read from Redis the way kombu stores it.

A queue's waiting messages live in its list plus one list per priority step
(`<queue>\\x06\\x16<n>`); messages a worker has taken but not acknowledged sit in the `unacked`
hash. `LLEN <queue>` alone undercounts both, which is why scalers built on it lag.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio

PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_LEVELS = range(10)  # kombu's Redis transport knows priorities 0-9
UNACKED_KEY = "unacked"


@dataclass(frozen=True)
class Backlog:
    queue: str
    waiting: int  # in the queue's lists, not yet taken by any worker
    reserved: int  # taken by a worker, not yet acknowledged (running or about to)

    @property
    def total(self) -> int:
        return self.waiting + self.reserved


def queue_list_keys(queue: str) -> list[str]:
    """The queue's list followed by its priority lists; priority 0 is the bare name."""
    return [queue] + [f"{queue}{PRIORITY_SEPARATOR}{n}" for n in PRIORITY_LEVELS if n]


def reserved_queue(unacked_entry: bytes | str) -> str | None:
    """The queue an `unacked` hash value was delivered from (its routing key), if readable."""
    try:
        _message, _exchange, routing_key = json.loads(unacked_entry)
    except (ValueError, TypeError):
        return None
    return routing_key if isinstance(routing_key, str) else None


def count_reserved(unacked_entries: Iterable[bytes | str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in unacked_entries:
        queue = reserved_queue(entry)
        if queue is not None:
            counts[queue] = counts.get(queue, 0) + 1
    return counts


def combine(
    queues: Iterable[str], list_lengths: Mapping[str, int], reserved: Mapping[str, int]
) -> dict[str, Backlog]:
    result = {}
    for queue in queues:
        waiting = sum(list_lengths.get(key, 0) for key in queue_list_keys(queue))
        result[queue] = Backlog(queue=queue, waiting=waiting, reserved=reserved.get(queue, 0))
    return result


def queue_lengths(
    pipe: redis.client.Pipeline | redis.asyncio.client.Pipeline, queues: Iterable[str]
) -> list[str]:
    """Queue the length of every list of `queues` on `pipe`; the keys, in reply order. For
    callers that read more in the same round trip (the autoscaler reads `unacked` whole)."""
    keys = [key for queue in queues for key in queue_list_keys(queue)]
    for key in keys:
        pipe.llen(key)
    return keys


def _queue_pipeline(
    pipe: redis.client.Pipeline | redis.asyncio.client.Pipeline, queues: list[str]
) -> list[str]:
    """Queue every length and the unacked hash on `pipe`; the keys in reply order."""
    keys = queue_lengths(pipe, queues)
    pipe.hvals(UNACKED_KEY)
    return keys


def _from_replies(queues: list[str], keys: list[str], replies: list[Any]) -> dict[str, Backlog]:
    *lengths, unacked = replies
    return combine(queues, dict(zip(keys, lengths, strict=True)), count_reserved(unacked))


def read_backlog(client: redis.Redis, queues: Iterable[str]) -> dict[str, Backlog]:
    """Backlog of each queue, in one round trip to Redis."""
    queue_list = list(queues)
    pipe = client.pipeline(transaction=False)
    keys = _queue_pipeline(pipe, queue_list)
    return _from_replies(queue_list, keys, pipe.execute())


async def read_backlog_async(
    client: redis.asyncio.Redis, queues: Iterable[str]
) -> dict[str, Backlog]:
    """`read_backlog` for asyncio callers (the API)."""
    queue_list = list(queues)
    pipe = client.pipeline(transaction=False)
    keys = _queue_pipeline(pipe, queue_list)
    return _from_replies(queue_list, keys, await pipe.execute())
