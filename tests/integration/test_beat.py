"""Two beat processes on one Redis: one holds the lock and fires, the schedule is not doubled."""

from __future__ import annotations

import json
import time
from pathlib import Path

import redis

from tasklane_devstack.redis_server import RedisServer
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
