"""What the API keeps in Redis about submissions: the record that makes unknown ids 404,
idempotency keys, revoke markers, and Celery's result meta read back for status."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis

from tasklane_api.celery_message import event_channel
from tasklane_api.replication import ReplicatedScript
from tasklane_contract.records import (
    SUBMITTED_INDEX_KEY,
    Submission,
    idempotency_key,
    requeued_key,
    result_key,
    revoked_key,
    submission_key,
)


class StoredTask(NamedTuple):
    submission: Submission | None
    meta: dict[str, Any] | None  # Celery's result meta
    requeued: dict[str, Any] | None  # tasklane_contract.reservations' requeued marker


class IdempotencyConflict(Exception):
    """The key was used before with different arguments."""


# Accepting a submission, in one atomic step: the record, the index entry, the task message and
# its task-sent event; with an idempotency key (KEYS[4]) the key's claim too, unless the key
# was claimed before, in which case nothing is queued and the first claim is returned. The
# claim and the task it names are written together or not at all, also across a failover.
# KEYS: record, index, queue, [idempotency key]
# ARGV: record, ttl, submitted at, task id, message, event channel, event, [claim]
ACCEPT = """
if KEYS[4] then
  local first = redis.call('GET', KEYS[4])
  if first then
    -- Written again unchanged: a WAIT after this script then covers the first submission too.
    redis.call('SET', KEYS[4], first, 'KEEPTTL')
    return first
  end
  redis.call('SET', KEYS[4], ARGV[8], 'EX', ARGV[2])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('LPUSH', KEYS[3], ARGV[5])  -- priority 0 lives in the queue's bare list
redis.call('PUBLISH', ARGV[6], ARGV[7])
return false
"""


class TaskStore:
    def __init__(
        self,
        client: aioredis.Redis,
        ttl_s: int,
        replica_acks: int = 0,
        replica_ack_timeout_s: float = 1.0,
    ) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.event_channel = event_channel(client.connection_pool.connection_kwargs.get("db", 0))
        # Every acceptance waits for `replica_acks` replicas to have it (tasklane_api.replication).
        self._accept = ReplicatedScript(client, ACCEPT, replica_acks, replica_ack_timeout_s)

    async def accept(
        self,
        submission: Submission,
        message: bytes,
        sent_event: bytes,
        idempotency: tuple[str, str, str] | None = None,
    ) -> str | None:
        """Record the submission and queue its message in one atomic round trip: a record
        exists exactly when its task was queued. `idempotency` is (task name, key, arguments'
        fingerprint): if the key was used before, nothing is queued and the first task's id is
        returned; IdempotencyConflict if it was used with other arguments."""
        keys = [submission_key(submission.id), SUBMITTED_INDEX_KEY, submission.queue]
        args: list[str | bytes | float | int] = [
            submission.model_dump_json(),
            self.ttl_s,
            submission.submitted_at,
            submission.id,
            message,
            self.event_channel,
            sent_event,
        ]
        if idempotency is not None:
            name, key, fingerprint = idempotency
            keys.append(idempotency_key(name, key))
            args.append(orjson.dumps({"id": submission.id, "fingerprint": fingerprint}))
        first = await self._accept(keys, args)
        if first is None or idempotency is None:
            return None
        claim = orjson.loads(first)
        if claim["fingerprint"] != idempotency[2]:
            raise IdempotencyConflict(
                f"Idempotency-Key {idempotency[1]!r} was already used with different arguments"
            )
        return str(claim["id"])

    async def load(self, task_id: str) -> StoredTask:
        """The submission record, Celery's result meta and the requeued marker, in one round
        trip."""
        return (await self.load_many([task_id]))[0]

    async def load_many(self, task_ids: list[str]) -> list[StoredTask]:
        """`load` for several tasks, still one round trip."""
        keys = [
            key for i in task_ids for key in (submission_key(i), result_key(i), requeued_key(i))
        ]
        values = await self.client.mget(keys) if keys else []
        return [
            StoredTask(
                Submission.model_validate_json(record) if record is not None else None,
                orjson.loads(meta) if meta is not None else None,
                orjson.loads(requeued) if requeued is not None else None,
            )
            for record, meta, requeued in zip(values[::3], values[1::3], values[2::3], strict=True)
        ]

    async def recent_ids(self, limit: int) -> list[str]:
        ids = await self.client.zrevrange(SUBMITTED_INDEX_KEY, 0, limit - 1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def mark_revoked(self, task_id: str) -> None:
        await self.client.set(revoked_key(task_id), b"1", ex=self.ttl_s)
