"""Redis at its maxmemory with noeviction (as the chart runs it): the worker rides it out, and
what it could not write is written once Redis has room again; nothing lost, nothing run twice.
The API answers 503 with Retry-After and says Redis is full, never a 500 or a reset connection;
/readyz and the metrics say so; it recovers by itself once memory is freed."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.memory import KeptFull, fill_to_maxmemory, free
from tests.support.metrics import sample_value
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


def test_the_api_says_redis_is_full_then_recovers(fresh_redis: RedisServer, tmp_path: Path) -> None:
    env = {"TASKLANE_REDIS_URL": fresh_redis.url, "TASKLANE_RETRY_AFTER_S": "7"}
    api = start_api(env, tmp_path, port := free_port())
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        # One keep-alive connection throughout: a reset would fail the next request.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            earlier = http.post("/v1/tasks/text.process", json={"data": "before"})
            assert earlier.status_code == 202
            task_id = earlier.json()["id"]
            metrics = http.get("/metrics").text
            assert sample_value(metrics, "tasklane_redis_memory_max_bytes") == 0  # no limit yet
            assert (sample_value(metrics, "tasklane_redis_memory_used_bytes") or 0) > 0

            # Below what Redis uses by more than the buffers it frees by itself: every write is
            # refused, by a margin no idle connection's shrinking closes, until it is lifted.
            maxmemory = int(client.info("memory")["used_memory"]) - 512 * 1024
            client.config_set("maxmemory", maxmemory)
            for _ in range(5):
                refused = http.post("/v1/tasks/text.process", json={"data": "during"})
                assert refused.status_code == 503, refused.text
                assert refused.headers["Retry-After"] == "7"
                assert refused.headers["content-type"] == "application/json"
                assert "Redis is full" in refused.json()["detail"]
            revoke = http.delete(f"/v1/tasks/{task_id}")
            assert revoke.status_code == 503
            assert "Redis is full" in revoke.json()["detail"]
            assert http.get(f"/v1/tasks/{task_id}").status_code == 200  # reads still work
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["reason"].startswith("redis: full (a write was refused")
            metrics = http.get("/metrics").text
            rejected = sample_value(
                metrics,
                "tasklane_api_tasks_rejected_total",
                task="text.process",
                reason="redis_full",
            )
            assert rejected == 5
            assert sample_value(metrics, "tasklane_redis_memory_max_bytes") == maxmemory
            used = sample_value(metrics, "tasklane_redis_memory_used_bytes")
            assert used is not None and used > maxmemory

            client.config_set("maxmemory", 0)

            def accepted() -> httpx.Response | None:
                response = http.post("/v1/tasks/text.process", json={"data": "after"})
                return response if response.status_code == 202 else None

            eventually(accepted, timeout_s=20, every_s=0.2)
            assert http.get("/readyz").status_code == 200
            assert http.delete(f"/v1/tasks/{task_id}").status_code == 202
    finally:
        client.config_set("maxmemory", 0)
        client.close()
        api.stop()
    log = api.log()
    assert "Internal Server Error" not in log and "Traceback" not in log, log
    # Said once when it filled up, once when it had room again: not once per request.
    assert log.count(" is full") == 1, log
    assert log.count("answers again (was full)") == 1, log
