"""What the API keeps in Redis about submissions: the record that makes unknown ids 404,
idempotency keys, revoke markers, and Celery's result meta read back for status."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis

from tasklane_api.celery_message import event_channel
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


class TaskStore:
    def __init__(self, client: aioredis.Redis, ttl_s: int) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.event_channel = event_channel(client.connection_pool.connection_kwargs.get("db", 0))

    async def claim_idempotency_key(
        self, name: str, key: str, fingerprint: str, task_id: str
    ) -> str | None:
        """Bind `key` to `task_id`; if it was bound before, return that task's id instead."""
        redis_key = idempotency_key(name, key)
        claim = orjson.dumps({"id": task_id, "fingerprint": fingerprint})
        if await self.client.set(redis_key, claim, nx=True, ex=self.ttl_s):
            return None
        existing = await self.client.get(redis_key)
        if existing is None:  # expired between the two calls: take it over
            await self.client.set(redis_key, claim, ex=self.ttl_s)
            return None
        first = orjson.loads(existing)
        if first["fingerprint"] != fingerprint:
            raise IdempotencyConflict(
                f"Idempotency-Key {key!r} was already used with different arguments"
            )
        return str(first["id"])

    async def release_idempotency_key(self, name: str, key: str) -> None:
        await self.client.delete(idempotency_key(name, key))

    async def accept(self, submission: Submission, message: bytes, sent_event: bytes) -> None:
        """Record the submission and queue its message in one atomic round trip: a record
        exists exactly when its task was queued."""
        pipe = self.client.pipeline(transaction=True)
        pipe.set(submission_key(submission.id), submission.model_dump_json(), ex=self.ttl_s)
        pipe.zadd(SUBMITTED_INDEX_KEY, {submission.id: submission.submitted_at})
        pipe.lpush(submission.queue, message)  # priority 0 lives in the queue's bare list
        pipe.publish(self.event_channel, sent_event)
        await pipe.execute()

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
