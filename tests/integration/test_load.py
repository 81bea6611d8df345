"""A small `make load` run: every accepted task reaches SUCCESS; refusals are counted by reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.load import run_load
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.processes import start_api, start_worker


def test_load_run_loses_nothing(fresh_redis: RedisServer, tmp_path: Path) -> None:
    env = {
        "TASKLANE_REDIS_URL": fresh_redis.url,
        "TASKLANE_WORKER_CONCURRENCY": "4",
        "TASKLANE_RATE_LIMIT_PER_MINUTE": "100",
    }
    api = start_api(env, tmp_path, port := free_port())
    worker = start_worker(env, tmp_path)
    try:
        report = asyncio.run(run_load(f"http://127.0.0.1:{port}", rate=40, seconds=3, settle_s=60))
    finally:
        worker.stop()
        api.stop()
    assert report.sent == 120
    assert len(report.accepted) + sum(report.rejected.values()) == report.sent
    # 100 a minute for this client; a minute boundary inside the run can admit more.
    assert 100 <= len(report.accepted) <= 120
    assert set(report.rejected) <= {"429"}
    assert report.all_succeeded, report.outcomes
    assert len(report.latencies_ms) == report.sent
    assert "all accepted tasks succeeded: True" in report.lines()
