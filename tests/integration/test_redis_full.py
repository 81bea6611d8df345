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
from tests.support.memory import FILLER_PREFIX, free
from tests.support.polling import wait_for_status
from tests.support.processes import start_api, start_worker

pytestmark = pytest.mark.slow


def test_the_worker_rides_out_a_full_redis(fresh_redis: RedisServer, tmp_path: Path) -> None:
    env = {"TASKLANE_REDIS_URL": fresh_redis.url, "TASKLANE_WORKER_CONCURRENCY": "2"}
    api = start_api(env, tmp_path, port := free_port())
    worker = start_worker(env, tmp_path)
    client = redis.Redis.from_url(fresh_redis.url)
    fillers: list[str] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            # Tasks keep arriving while Redis fills up: the worker takes some of them as Redis
            # reaches its limit (its fetch, its acknowledgements and its results under OOM).
            client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + 400_000)
            accepted: list[str] = []
            full = False
            while not full:
                response = http.post("/v1/tasks/demo.sleep", json={"seconds": 0.3})
                if response.status_code == 202:
                    accepted.append(str(response.json()["id"]))
                try:
                    key = f"{FILLER_PREFIX}{len(fillers)}"
                    client.set(key, b"x" * 8192)
                    fillers.append(key)
                except redis.exceptions.OutOfMemoryError:
                    full = response.status_code != 202
            time.sleep(5)  # full for a while, tasks done and waiting to be stored
            assert worker.process.poll() is None, worker.log()
            free(client, fillers)
            for task_id in accepted:
                assert wait_for_status(http, task_id, {"SUCCESS"}, timeout_s=60)["status"]
            log = worker.log()
            assert all(log.count(f"demo.sleep[{i}] received") == 1 for i in accepted)
            assert client.hlen("unacked") == 0
            assert client.llen("default") == 0
            assert worker.process.poll() is None
            assert "Redis is full" in log  # it did meet a full Redis
            print(f"{len(accepted)} tasks accepted while Redis filled up: all SUCCESS, once each")
    finally:
        free(client, fillers)
        client.close()
        worker.stop()
        api.stop()
