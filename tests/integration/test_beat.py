"""Two beat processes on one Redis: one holds the lock and fires, the schedule is not doubled."""

from __future__ import annotations

import json
import time
from pathlib import Path

import redis

from tasklane_beat.app import LOCK_TIMEOUT_S
from tasklane_devstack.redis_server import RedisServer
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess


def test_two_beats_do_not_double_fire(fresh_redis: RedisServer, tmp_path: Path) -> None:
    env = {
        "TASKLANE_REDIS_URL": fresh_redis.url,
        "TASKLANE_BEAT_SCHEDULE": json.dumps({"cleanup-submitted-index": 1}),
    }
    beats = [ServiceProcess(f"beat{i}", "tasklane_beat", env, tmp_path) for i in (1, 2)]
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        started = time.monotonic()
        time.sleep(8)
        fired = client.llen("maintenance")
        elapsed = time.monotonic() - started
        lock_holders = [b.name for b in beats if "Acquired lock" in b.log()]
        assert len(lock_holders) == 1, [b.log() for b in beats]
        # One firing a second; two unlocked beats would have queued about twice as many.
        assert 4 <= fired <= elapsed + 1, fired
        messages = [json.loads(m) for m in client.lrange("maintenance", 0, -1)]
        assert {m["headers"]["task"] for m in messages} == {"maintenance.cleanup"}
    finally:
        for beat in beats:
            beat.stop()
        client.close()


def test_the_other_beat_takes_over_when_the_lock_holder_dies(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    env = {
        "TASKLANE_REDIS_URL": fresh_redis.url,
        "TASKLANE_BEAT_SCHEDULE": json.dumps({"cleanup-submitted-index": 2}),
    }
    beats = [ServiceProcess(f"beat{i}", "tasklane_beat", env, tmp_path) for i in (1, 2)]
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        holder = eventually(
            lambda: next((b for b in beats if "Acquired lock" in b.log()), None), timeout_s=20
        )
        standby = next(b for b in beats if b is not holder)
        eventually(lambda: client.llen("maintenance") >= 2, timeout_s=10)
        holder.kill()
        fired_at_death = client.llen("maintenance")
        killed_at = time.monotonic()
        standby.wait_for_log("Acquired lock", timeout_s=LOCK_TIMEOUT_S + 15)
        took_over_after = time.monotonic() - killed_at
        # The run that fell due while nobody held the lock fires at once, late but not lost.
        eventually(lambda: client.llen("maintenance") > fired_at_death, timeout_s=3)
        time.sleep(6)
        fired_since = client.llen("maintenance") - fired_at_death
        # One run every 2 s from the takeover on, plus the late one; never a burst of catch-ups.
        assert 3 <= fired_since <= 6, fired_since
        assert took_over_after <= LOCK_TIMEOUT_S + 10
    finally:
        for beat in beats:
            beat.stop()
        client.close()
