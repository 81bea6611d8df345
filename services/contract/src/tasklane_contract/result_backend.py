"""Celery's Redis result backend, with each state written in one round trip instead of two.

Celery reads a task's stored state before every write, so that a SUCCESS is never overwritten
(a redelivered copy of a finished task must not undo its result), then writes and publishes the
new state: a GET, then a SETEX + PUBLISH pipeline. A worker writes two states per task
(STARTED, then the outcome), and those four round trips were a large share of a short task's
cost. Here the same check, write and publish run as one Lua script: one round trip per state,
and the check and the write can no longer interleave with another worker's.

The stored value is Celery's own meta (built and encoded by Celery), so every reader of
Celery's backend, the API's status reads and `AsyncResult` alike, sees no difference.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from celery import states
from celery.backends.redis import RedisBackend
from celery.exceptions import BackendStoreError

# KEYS[1]: the task's meta key; KEYS[2], optional: a key whose presence forbids the write.
# ARGV[1]: the encoded meta; ARGV[2]: seconds to keep it (0: for ever).
# Returns 1 when written, 0 when a stored SUCCESS was kept, -1 when KEYS[2] exists.
STORE_UNLESS_SUCCEEDED = """
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
local current = redis.call('GET', KEYS[1])
if current then
  local ok, meta = pcall(cjson.decode, current)
  if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then
    return 0
  end
end
local expires = tonumber(ARGV[2])
if expires > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', expires)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


class RedisResultBackend(RedisBackend):  # type: ignore[misc]
    def __init__(self, app: Any, url: str | None = None, **kwargs: Any) -> None:
        # Set as the app's backend class, Celery passes no URL: the configured one applies.
        super().__init__(app=app, url=url or app.conf.result_backend, **kwargs)

    @cached_property
    def _store_script(self) -> Any:
        # redis-py runs it by digest (EVALSHA) and loads it again after a Redis restart.
        return self.client.register_script(STORE_UNLESS_SUCCEEDED)

    def _store_result(
        self,
        task_id: str | bytes,
        result: Any,
        state: str,
        traceback: Any = None,
        request: Any = None,
        **kwargs: Any,
    ) -> Any:
        self._store(task_id, result, state, traceback, request)
        return result

    def store_started_unless(self, task_id: str, result: Any, request: Any, forbidden: str) -> bool:
        """Store STARTED, as Celery's `task_track_started` does, unless the key `forbidden`
        exists: a check the worker would otherwise make in a round trip of its own. False when
        `forbidden` exists (nothing is stored then)."""
        return self._store(task_id, result, states.STARTED, None, request, forbidden) != -1

    def _store(
        self,
        task_id: str | bytes,
        result: Any,
        state: str,
        traceback: Any,
        request: Any,
        forbidden: str | None = None,
    ) -> int:
        meta = self._get_result_meta(
            result=result, state=state, traceback=traceback, request=request
        )
        meta["task_id"] = task_id.decode() if isinstance(task_id, bytes) else task_id
        value = self.encode(meta)
        if len(value) > self._MAX_STR_VALUE_SIZE:
            raise BackendStoreError(
                "value too large for Redis backend", state=state, task_id=task_id
            )
        expires = self.failure_expires if state == states.FAILURE else self.expires
        keys = [self.get_key_for_task(task_id), *([forbidden] if forbidden else [])]
        stored: int = self.ensure(self._run_store_script, (keys, value, expires))
        return stored

    def _run_store_script(self, keys: list[Any], value: str | bytes, expires: Any) -> int:
        return int(self._store_script(keys=keys, args=[value, int(expires or 0)]))
