"""Redis at its maxmemory with noeviction (as the chart runs it): the worker rides it out, and
what it could not write is written once Redis has room again; nothing lost, nothing run twice."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.memory import KeptFull, fill_to_maxmemory, free
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import start_api, start_worker

pytestmark = pytest.mark.slow


def received(log: str, task_id: str) -> int:
    return log.count(f"demo.sleep[{task_id}] received")


def test_the_worker_rides_out_a_full_redis(fresh_redis: RedisServer, tmp_path: Path) -> None:
    env = {"TASKLANE_REDIS_URL": fresh_redis.url, "TASKLANE_WORKER_CONCURRENCY": "2"}
    api = start_api(env, tmp_path, port := free_port())
    worker = start_worker(env, tmp_path)
    client = redis.Redis.from_url(fresh_redis.url)
    fillers: list[str] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            accepted = []
            for _ in range(6):
                response = http.post("/v1/tasks/demo.sleep", json={"seconds": 2})
                assert response.status_code == 202
                accepted.append(str(response.json()["id"]))
            eventually(lambda: sum(received(worker.log(), i) for i in accepted) == 2)
            # Full while two tasks run and four wait: the worker fetches the waiting ones (a
            # move from list to hash), acknowledges, and has results to store.
            fillers = fill_to_maxmemory(client)
            with KeptFull(client, fillers):
                time.sleep(6)
                assert worker.process.poll() is None, worker.log()
            free(client, fillers)
            for task_id in accepted:
                assert wait_for_status(http, task_id, {"SUCCESS"}, timeout_s=60)["status"]
            log = worker.log()
            assert all(received(log, i) == 1 for i in accepted)  # nothing ran twice
            assert client.hlen("unacked") == 0
            assert client.llen("default") == 0
            assert worker.process.poll() is None
            assert "Redis is full: SUCCESS of task" in log  # results waited for room
    finally:
        free(client, fillers)
        client.close()
        worker.stop()
        api.stop()
