"""A connection to Redis that goes silent (no reset, no close: the peer vanished) is noticed by
the worker within seconds, and the worker consumes again within seconds of Redis answering."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import start_api, start_worker
from tests.support.proxy import SilentProxy

pytestmark = pytest.mark.slow


def test_a_silent_connection_is_noticed_and_left_for_a_new_one(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    api = start_api({"TASKLANE_REDIS_URL": fresh_redis.url}, tmp_path, port := free_port())
    with SilentProxy(fresh_redis.port) as proxy:
        worker_env = {"TASKLANE_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"}
        worker = start_worker(worker_env, tmp_path)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

                def run_one() -> float:
                    began = time.monotonic()
                    task_id = http.post("/v1/tasks/text.process", json={"data": "x"}).json()["id"]
                    wait_for_status(http, task_id, {"SUCCESS"}, timeout_s=60)
                    return time.monotonic() - began

                run_one()
                proxy.go_silent()
                silent_at = time.monotonic()
                eventually(lambda: "Connection to broker lost" in worker.log(), timeout_s=60)
                noticed_s = time.monotonic() - silent_at
                time.sleep(5)  # its reconnection attempts meet the same silence
                proxy.resume()
                resumed_s = run_one()
                print(
                    f"silent connection noticed after {noticed_s:.1f}s; a task submitted when "
                    f"Redis answered again succeeded {resumed_s:.1f}s later"
                )
                assert noticed_s < 30
                assert resumed_s < 30
        finally:
            worker.kill()
            api.stop()
