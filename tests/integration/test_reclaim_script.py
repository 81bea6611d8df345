"""The sweep's Lua script on a real Redis: only expired holders' reservations go back, each once,
and a run that already finished is released, not queued again."""

from __future__ import annotations

import json

import redis

from tasklane_contract.records import (
    requeued_key,
    result_key,
    revoked_key,
)
from tasklane_contract.reservations import (
    HOLDERS_KEY,
    REQUEUED_TOTAL_KEY,
    SWEEP_KEY,
    UNACKED_INDEX_KEY,
    UNACKED_KEY,
    GivenBack,
    holder_record,
    lease_key,
    reclaim_expired,
    reserved_entry,
)
from tasklane_devstack.redis_server import RedisServer


def reserve(client: redis.Redis, holder: str, task_id: str, tag: str) -> bytes:
    raw = json.dumps(
        {"headers": {"id": task_id}, "properties": {"delivery_tag": tag, "delivery_info": {}}}
    ).encode()
    entry, length = reserved_entry(raw, "default", "default")
    client.hset(UNACKED_KEY, tag, entry)
    client.zadd(UNACKED_INDEX_KEY, {tag: 1.0})
    client.hset(HOLDERS_KEY, tag, holder_record(holder, length, "default"))
    return raw


def sweep(client: redis.Redis, sweeper: str) -> list[GivenBack] | None:
    return reclaim_expired(client, sweeper, marker_s=600, interval_ms=60000)


def test_only_expired_holders_lose_their_tasks_and_each_goes_back_once(
    fresh_redis: RedisServer,
) -> None:
    client = redis.Redis.from_url(fresh_redis.url)
    client.set(lease_key("alive"), "1", px=30000)
    client.set(lease_key("sweeper"), "1", px=30000)
    reserve(client, "alive", "kept", "tag-kept")
    lost = reserve(client, "dead", "lost", "tag-lost")
    reserve(client, "dead", "done", "tag-done")
    client.set(result_key("lost"), json.dumps({"status": "STARTED"}))
    client.set(result_key("done"), json.dumps({"status": "SUCCESS"}))

    given = sweep(client, "sweeper")
    assert given is not None
    assert sorted((g.task_id, g.requeued, g.holder) for g in given) == [
        ("done", False, "dead"),
        ("lost", True, "dead"),
    ]
    assert client.lrange("default", 0, -1) == [lost]  # unchanged, as it was queued
    assert client.hkeys(UNACKED_KEY) == [b"tag-kept"]
    assert client.hkeys(HOLDERS_KEY) == [b"tag-kept"]
    assert client.get(result_key("lost")) is None  # waiting again
    assert json.loads(client.get(result_key("done")) or b"{}")["status"] == "SUCCESS"
    assert json.loads(client.get(requeued_key("lost")) or b"{}")["reason"] == "reclaimed"
    assert client.hgetall(REQUEUED_TOTAL_KEY) == {b"reclaimed\ndefault": b"1"}

    assert sweep(client, "sweeper") is None  # swept within the interval: another one waits
    client.delete(SWEEP_KEY)
    assert sweep(client, "sweeper") == []  # nothing is given back twice
    client.delete(lease_key("sweeper"))
    assert sweep(client, "sweeper") is None  # a sweeper without its own lease does nothing
    client.close()


def test_a_revoked_run_stays_given_up_only_when_a_revoke_asked_for_it(
    fresh_redis: RedisServer,
) -> None:
    """Celery stores REVOKED for a run it terminated itself (its tasks cancelled on a lost
    connection before the run started): without the API's revoke marker that task must come
    back, or it would never run; with the marker it was revoked on purpose."""
    client = redis.Redis.from_url(fresh_redis.url)
    client.set(lease_key("sweeper"), "1", px=30000)
    cut_short = reserve(client, "dead", "cut-short", "tag-cut-short")
    reserve(client, "dead", "revoked", "tag-revoked")
    for task_id in ("cut-short", "revoked"):
        client.set(result_key(task_id), json.dumps({"status": "REVOKED"}))
    client.set(revoked_key("revoked"), b"1")

    given = sweep(client, "sweeper")
    assert given is not None
    assert sorted((g.task_id, g.requeued) for g in given) == [
        ("cut-short", True),
        ("revoked", False),
    ]
    assert client.lrange("default", 0, -1) == [cut_short]
    assert client.get(result_key("cut-short")) is None  # waiting again, not REVOKED
    assert json.loads(client.get(result_key("revoked")) or b"{}")["status"] == "REVOKED"
    client.close()
