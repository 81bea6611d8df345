"""Celery's Redis result backend, with each state written in one round trip instead of two.

Celery reads a task's stored state before every write, so that a SUCCESS is never overwritten
(a redelivered copy of a finished task must not undo its result), then writes and publishes the
new state: a GET, then a SETEX + PUBLISH pipeline. A worker writes two states per task
(STARTED, then the outcome), and those four round trips were a large share of a short task's
cost. Here the same check, write and publish run as one Lua script: one round trip per state,
and the check and the write can no longer interleave with another worker's.

The stored value is Celery's own meta (built and encoded by Celery), so every reader of
Celery's backend, the API's status reads and `AsyncResult` alike, sees no difference.

Two more rules, for a worker's writes:
- A run writes only while its worker still holds the task's message (the same script checks
  the reservation's holder, see tasklane_contract.reservations): a worker frozen past its lease
  does not write over the run that took its task over.
- While Redis is out of memory (maxmemory with noeviction), STARTED and PROGRESS are done
  without. A task process whose state Redis refuses (full or unreachable) waits and stores it
  as soon as Redis accepts it (the message is acknowledged after that, so nothing is lost);
  the worker's consumer process logs and drops a state of its own rather than hold up its
  event loop (Celery would retry 20 times a second apart).
"""

from __future__ import annotations

import logging
import time
from functools import cached_property
from typing import Any

from billiard.process import current_process  # type: ignore[import-untyped]
from celery import states
from celery.backends.redis import RedisBackend, SentinelBackend
from celery.exceptions import BackendStoreError
from redis.exceptions import OutOfMemoryError

from tasklane_contract.records import PROGRESS_STATE
from tasklane_contract.redis_clients import MasterConnection
from tasklane_contract.reservations import HOLDER_OF_FUNCTION, HOLDER_PROPERTY, HOLDERS_KEY

log = logging.getLogger(__name__)

# KEYS[1]: the task's meta key; KEYS[2]: a key whose presence forbids the write, or '' for
# none; KEYS[3], optional: the reservation holders hash.
# ARGV[1]: the encoded meta; ARGV[2]: seconds to keep it (0: for ever); ARGV[3], ARGV[4]: the
# delivery tag and holder the run was delivered under.
# Returns STORED, KEPT_SUCCESS, FORBIDDEN, or NOT_HELD when another consumer holds the task's
# message now (this run's worker was frozen or cut off past its lease and the task was given
# to another): the run that holds the message is the one that writes.
STORE_UNLESS_SUCCEEDED = (
    HOLDER_OF_FUNCTION
    + """
if KEYS[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
if KEYS[3] then
  local record = redis.call('HGET', KEYS[3], ARGV[3])
  if record and holder_of(record) ~= ARGV[4] then
    return -2
  end
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
)
STORED, KEPT_SUCCESS, FORBIDDEN, NOT_HELD = 1, 0, -1, -2
DROPPED = 2  # not stored: Redis refused it and this process does not wait
# States a worker does without while Redis is out of memory: the final state supersedes them.
SKIPPED_WHEN_FULL = frozenset({states.STARTED, PROGRESS_STATE})
# Seconds between a task process's attempts to store a state Redis refused, at most.
RETRY_MAX_S = 5.0


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

    def store_started_unless(self, task_id: str, result: Any, request: Any, forbidden: str) -> int:
        """Store STARTED, as Celery's `task_track_started` does, unless the key `forbidden`
        exists: a check the worker would otherwise make in a round trip of its own. Returns
        STORED (also when Redis is full and STARTED was done without), KEPT_SUCCESS (the task
        already succeeded), FORBIDDEN (`forbidden` exists) or NOT_HELD (see the script)."""
        return self._store(task_id, result, states.STARTED, None, request, forbidden)

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
        keys = [self.get_key_for_task(task_id), forbidden or ""]
        args = [value, int(expires or 0)]
        held = delivered_under(request)
        if held is not None:
            keys.append(HOLDERS_KEY)
            args.extend(held)
        waited_since: float | None = None
        delay = 0.1
        while True:
            try:
                # No retries inside: Celery's 20 one-second retries would hold up a worker's
                # event loop (a stop while Redis is away took minutes).
                stored: int = self.ensure(self._run_store_script, (keys, args), max_retries=0)
            except OutOfMemoryError:
                if state in SKIPPED_WHEN_FULL:
                    log.warning("Redis is full: %s of task %s not stored", state, task_id)
                    return STORED
                why = "Redis is full"
            except self.connection_errors as exc:
                why = f"Redis is unreachable ({type(exc).__name__})"
            else:
                break
            if not in_task_process():
                # The worker's consumer records states of its own (RETRY for a task it
                # cancels on a lost connection, REVOKED, a lost process's FAILURE): it must
                # not stop for them, and raising would cut Celery's bookkeeping short.
                log.warning("%s: %s of task %s not stored", why, state, task_id)
                return DROPPED
            if waited_since is None:
                waited_since = time.monotonic()
                log.warning(
                    "%s: %s of task %s is stored once Redis accepts it", why, state, task_id
                )
            time.sleep(delay)
            delay = min(RETRY_MAX_S, delay * 2)
        if waited_since is not None:
            log.warning(
                "%s of task %s stored after %.1fs", state, task_id, time.monotonic() - waited_since
            )
        if stored == NOT_HELD:
            log.warning(
                "%s of task %s not stored: the task was given to another worker while this "
                "one was frozen or cut off from Redis",
                state,
                task_id,
            )
        return stored

    def _run_store_script(self, keys: list[Any], args: list[Any]) -> int:
        return int(self._store_script(keys=keys, args=args))


class SentinelResultBackend(RedisResultBackend, SentinelBackend):  # type: ignore[misc]
    """The same writes, on the master the sentinels name: Celery's sentinel backend asks them
    at each new connection (`sentinel://` URLs, `master_name` and `sentinel_kwargs` in
    result_backend_transport_options), and a master cut off from its replicas is left as a
    demoted one is (redis_clients.MasterConnection)."""

    def _get_pool(self, **params: Any) -> Any:
        return super()._get_pool(**{**params, "connection_class": MasterConnection})


def in_task_process() -> bool:
    """A worker's task process, which may wait for Redis: the task is done and its message is
    acknowledged only after its state is stored. The worker's consumer must go on."""
    return bool(current_process().name != "MainProcess")


def delivered_under(request: Any) -> tuple[str, str] | None:
    """(delivery tag, holder) a worker's run was delivered under, if it was reserved with a
    holder (see tasklane_contract.reservations); None for other writers (the API, beat)."""
    properties = getattr(request, "properties", None) or {}
    tag = properties.get("delivery_tag")
    holder = properties.get(HOLDER_PROPERTY)
    if isinstance(tag, str) and isinstance(holder, str) and holder:
        return tag, holder
    return None
