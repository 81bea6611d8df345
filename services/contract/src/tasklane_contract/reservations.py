"""Who holds each reserved message, and giving reserved messages back to their queue.

A worker's consumer reserves a message by moving it from its queue's list into kombu's `unacked`
hash (see redis_transport). Each consumer has a holder id, and beside kombu's entry the hash
HOLDERS_KEY records, per delivery tag, the holder, the length of the message and the list it
was taken from. With that record:

- a consumer acknowledges, gives back or stores a result only for what it still holds (a
  consumer that was frozen past its lease finds its tasks were given away and leaves them be);
- a consumer that stops gives back what it holds at once, not after the visibility timeout;
- any live worker gives back what a consumer held once that consumer's lease (lease_key,
  renewed by the worker on its own thread) has expired by Redis' clock.

Every give-back is one Lua script, so two workers never give back the same message twice, and
it moves the message (a deletion, then a push), which Redis allows while it is out of memory.
The message goes back unchanged to the list it came from, at the end consumers take from next.

The status a client reads follows: a STARTED or PROGRESS state of the run that was given up is
removed (the task is waiting again) and `requeued_key(task id)` says why and how many times. A
task whose run already stored a final state is not queued again, only released.

Keys a script builds from its arguments (the lease, result and marker keys) are not declared
in KEYS: like kombu's transport this needs a single Redis (or a Sentinel-managed one), not a
Redis Cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tasklane_contract.records import REQUEUED_KEY_PREFIX, RESULT_KEY_PREFIX, REVOKED_KEY_PREFIX

# The message property naming the holder a task was delivered under, for its result writes.
HOLDER_PROPERTY = "tasklane_holder"
# tag -> "<holder>\n<message length>\n<list>" for every reservation made by a consumer that
# has a holder id (workers); the authoritative record of who holds what.
HOLDERS_KEY = "tasklane:reservation-holders"
LEASE_KEY_PREFIX = "tasklane:lease:"
# kombu's keys for reserved messages (its defaults): the messages and their reservation times.
UNACKED_KEY = "unacked"
UNACKED_INDEX_KEY = "unacked_index"
# Set for a sweep interval by the worker that swept last, so the fleet sweeps once per interval.
SWEEP_KEY = "tasklane:reclaim-sweep"
# "<reason>\n<queue>" -> number of tasks given back to their queue for that reason.
REQUEUED_TOTAL_KEY = "tasklane:requeued-total"

# Why a task went back to its queue before it finished.
RECLAIMED = "reclaimed"  # its worker's lease expired: killed, frozen or cut off from Redis
SHUTDOWN = "shutdown"  # its worker was stopped and the task outlasted the shutdown timeout
# its run was cut short (the process running it died, or its worker lost Redis) and its worker
# gave it back
INTERRUPTED = "interrupted"
REQUEUE_REASONS = (RECLAIMED, SHUTDOWN, INTERRUPTED)


def lease_key(holder: str) -> str:
    return LEASE_KEY_PREFIX + holder


def holder_record(holder: str, message_length: int, source_list: str) -> str:
    return f"{holder}\n{message_length}\n{source_list}"


def reserved_entry(raw: bytes, exchange: str, routing_key: str) -> tuple[bytes, int]:
    """kombu's `unacked` value for a message, `[message, exchange, routing key]`, built around
    the message exactly as it was queued (its length is what a give-back cuts it out by)."""
    entry = b"[" + raw + b"," + json.dumps(exchange).encode() + b","
    entry += json.dumps(routing_key).encode() + b"]"
    return entry, len(raw)


# Lua: the holder a holders-hash record (holder_record) names.
HOLDER_OF_FUNCTION = r"""
local function holder_of(record)
    return string.sub(record, 1, string.find(record, '\n', 1, true) - 1)
end
"""

# Lua shared by the scripts below. KEYS[1] holders hash, KEYS[2] unacked, KEYS[3] unacked index.
_COMMON = (
    f"local REVOKED_PREFIX = '{REVOKED_KEY_PREFIX}'\n"
    + HOLDER_OF_FUNCTION
    + r"""

local function queue_of(list)
    local at = string.find(list, '\6\22', 1, true)
    if at then return string.sub(list, 1, at - 1) end
    return list
end

-- RETRY is not final: Celery stores it for a run it cancels, counting on the message to come
-- back.
local FINISHED = {SUCCESS = true, FAILURE = true, REVOKED = true}
local RUNNING = {STARTED = true, PROGRESS = true}

-- REVOKED is final only when a revoke asked for it (the API's marker). Celery also stores it
-- for a run it ended itself: cancelling its tasks on a lost connection, it terminates a run
-- that had not started yet as "revoked", and cannot acknowledge it on the lost connection.
local function finished(id, status)
    if status == 'REVOKED' then return redis.call('EXISTS', REVOKED_PREFIX .. id) == 1 end
    return FINISHED[status] == true
end

-- Give the reservation `tag` (recorded as `record`) back to the list it came from. ARGV[2]
-- reason, ARGV[3] marker lifetime in seconds, ARGV[4] result key prefix, ARGV[5] marker key
-- prefix. Returns {task id, queue, 1 if queued again or 0 if its run had already finished},
-- or nil if the message was no longer reserved.
local function give_back(tag, record)
    redis.call('HDEL', KEYS[1], tag)  -- a deletion first: allowed while Redis is out of memory
    local entry = redis.call('HGET', KEYS[2], tag)
    if not entry then return nil end
    redis.call('HDEL', KEYS[2], tag)
    redis.call('ZREM', KEYS[3], tag)
    local first = string.find(record, '\n', 1, true)
    local second = string.find(record, '\n', first + 1, true)
    local length = tonumber(string.sub(record, first + 1, second - 1))
    local list = string.sub(record, second + 1)
    local raw = string.sub(entry, 2, 1 + length)
    local ok, message = pcall(cjson.decode, raw)
    local headers = ok and type(message) == 'table' and message['headers']
    local id = type(headers) == 'table' and headers['id']
    local queue = queue_of(list)
    if type(id) ~= 'string' then
        redis.call('RPUSH', list, raw)
        return {'', queue, 1}
    end
    local meta_key = ARGV[4] .. id
    local meta = redis.call('GET', meta_key)
    if meta then
        local decoded, state = pcall(cjson.decode, meta)
        local status = decoded and type(state) == 'table' and state['status']
        if finished(id, status) then return {id, queue, 0} end
        if RUNNING[status] or status == 'REVOKED' then redis.call('DEL', meta_key) end
    end
    local marker_key = ARGV[5] .. id
    local times = 1
    local previous = redis.call('GET', marker_key)
    if previous then
        local decoded, marker = pcall(cjson.decode, previous)
        if decoded and type(marker) == 'table' and tonumber(marker['times']) then
            times = tonumber(marker['times']) + 1
        end
    end
    local now = redis.call('TIME')
    local at = tonumber(now[1]) + tonumber(now[2]) / 1000000
    redis.call('SET', marker_key, cjson.encode({reason = ARGV[2], at = at, times = times}),
        'EX', tonumber(ARGV[3]))
    redis.call('RPUSH', list, raw)
    return {id, queue, 1}
end

local function count(given)
    if given[3] == 1 then
        redis.call('HINCRBY', KEYS[4], ARGV[2] .. '\n' .. given[2], 1)
    end
end
"""
)

# KEYS: holders, unacked, unacked index, requeued counter.
# ARGV: holder, reason, marker lifetime, result key prefix, marker key prefix, then the tags.
# Gives back the tags this holder still holds; returns what give_back returned for each.
GIVE_BACK_HELD = (
    _COMMON
    + r"""
local given = {}
for i = 6, #ARGV do
    local record = redis.call('HGET', KEYS[1], ARGV[i])
    if record and holder_of(record) == ARGV[1] then
        local back = give_back(ARGV[i], record)
        if back then
            count(back)
            table.insert(given, back)
        end
    end
end
return given
"""
)

# KEYS: holders, unacked, unacked index, requeued counter, sweep marker, the sweeper's lease.
# ARGV: sweeper's holder, reason, marker lifetime, result key prefix, marker key prefix, lease
# key prefix, sweep interval in milliseconds.
# Gives back every reservation whose holder's lease has expired. Returns {-1} when the
# sweeper's own lease is gone, {0} when another worker swept within the interval, else {1,
# then for each reservation given back: task id, queue, 1 or 0 (see give_back), holder}.
RECLAIM_EXPIRED = (
    _COMMON
    + r"""
if redis.call('EXISTS', KEYS[6]) == 0 then return {-1} end
if redis.call('EXISTS', KEYS[5]) == 1 then return {0} end
local records = redis.call('HGETALL', KEYS[1])
local alive = {}
local result = {1}
for i = 1, #records, 2 do
    local tag, record = records[i], records[i + 1]
    local holder = holder_of(record)
    if alive[holder] == nil then
        alive[holder] = redis.call('EXISTS', ARGV[6] .. holder) == 1
    end
    if not alive[holder] then
        local back = give_back(tag, record)
        if back then
            count(back)
            table.insert(result, back[1])
            table.insert(result, back[2])
            table.insert(result, back[3])
            table.insert(result, holder)
        end
    end
end
-- pcall: a SET before any deletion is refused while Redis is out of memory; the sweep stands.
redis.pcall('SET', KEYS[5], ARGV[1], 'PX', tonumber(ARGV[7]))
return result
"""
)

# Lua: acknowledge the tags ARGV[first..last] for `holder`, unless another holder holds a tag
# now (it was given away while this one was frozen or cut off). Deletions only, which Redis
# allows while it is out of memory.
ACKNOWLEDGE_FUNCTION = (
    HOLDER_OF_FUNCTION
    + r"""
local function acknowledge(unacked, index, holders, holder, first, last)
    for i = first, last do
        local tag = ARGV[i]
        local record = redis.call('HGET', holders, tag)
        if not record or holder_of(record) == holder then
            redis.call('ZREM', index, tag)
            redis.call('HDEL', unacked, tag)
            if record then redis.call('HDEL', holders, tag) end
        end
    end
end
"""
)

# KEYS: holders, unacked, unacked index. ARGV: holder ('' for a consumer without one), then
# the tags to acknowledge.
ACKNOWLEDGE_HELD = (
    ACKNOWLEDGE_FUNCTION + "acknowledge(KEYS[2], KEYS[3], KEYS[1], ARGV[1], 2, #ARGV)\n"
)

# KEYS: holders, unacked, unacked index. ARGV: holder, reservation time, tag, kombu's entry,
# the holder record ('' for none), then tags to acknowledge first.
# Reserves a message that BRPOP already took from its list. See reserve_popped_script for
# Redis being out of memory.
RESERVE_POPPED = (
    ACKNOWLEDGE_FUNCTION
    + r"""
acknowledge(KEYS[2], KEYS[3], KEYS[1], ARGV[1], 6, #ARGV)
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], ARGV[3], ARGV[5]) end
"""
)


def reserve_popped_script(redis_version: str) -> str:
    """RESERVE_POPPED, flagged `allow-oom` where Redis knows script flags (7 and newer, Valkey):
    the message left its list a moment ago, so the reservation adds back about what the pop
    freed, and refusing it while Redis is full would lose the message. Redis 6 would refuse the
    flag line as Lua; there the script runs unflagged, as before."""
    major = int(redis_version.split(".", 1)[0] or 0)
    return ("#!lua flags=allow-oom\n" if major >= 7 else "") + RESERVE_POPPED


@dataclass(frozen=True)
class GivenBack:
    """A reservation given back by a script."""

    task_id: str  # '' when the message had no Celery task id
    queue: str
    requeued: bool  # False when its run had already stored a final state
    holder: str = ""


def reclaim_expired(
    client: Any, sweeper: str, marker_s: int, interval_ms: int
) -> list[GivenBack] | None:
    """Run RECLAIM_EXPIRED for the worker holding `sweeper`'s lease: what it gave back, or None
    when it did not sweep."""
    keys = [
        HOLDERS_KEY,
        UNACKED_KEY,
        UNACKED_INDEX_KEY,
        REQUEUED_TOTAL_KEY,
        SWEEP_KEY,
        lease_key(sweeper),
    ]
    args = [
        sweeper,
        RECLAIMED,
        marker_s,
        RESULT_KEY_PREFIX,
        REQUEUED_KEY_PREFIX,
        LEASE_KEY_PREFIX,
        interval_ms,
    ]
    # register_script only hashes the script; redis-py loads it when Redis does not know it.
    return reclaimed(client.register_script(RECLAIM_EXPIRED)(keys=keys, args=args))


def reclaimed(reply: list[bytes | int]) -> list[GivenBack] | None:
    """RECLAIM_EXPIRED's reply as the reservations given back; None when the sweep did not run
    (the sweeper holds no lease, or another worker swept within the interval)."""
    if int(reply[0]) != 1:
        return None
    rows = reply[1:]
    return [
        GivenBack(_text(rows[i]), _text(rows[i + 1]), bool(int(rows[i + 2])), _text(rows[i + 3]))
        for i in range(0, len(rows), 4)
    ]


def holds(client: Any, tag: str, holder: str) -> bool:
    """Whether `holder` may still write for the reservation `tag`: no other holder holds it."""
    record = client.hget(HOLDERS_KEY, tag)
    if record is None:
        return True
    text = record.decode() if isinstance(record, bytes) else str(record)
    return text.split("\n", 1)[0] == holder


def holder_node(holder: str) -> str:
    """The Celery node name a holder id starts with (see worker_holder)."""
    return holder.rsplit("/", 2)[0]


def worker_holder(node: str, pid: int, token: str) -> str:
    """A consumer's holder id: its node name, process id and a token unique to this start."""
    return f"{node}/{pid}/{token}"


def _text(value: bytes | int | str) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
