"""While Redis is down the API says 503 with Retry-After; afterwards it recovers by itself."""

from __future__ import annotations

from pathlib import Path

import httpx

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import start_api, start_worker


def test_503_while_redis_is_down_then_recovery(fresh_redis: RedisServer, tmp_path: Path) -> None:
    env = {"TASKLANE_REDIS_URL": fresh_redis.url, "TASKLANE_RETRY_AFTER_S": "7"}
    port = free_port()
    api = start_api(env, tmp_path, port)
    worker = start_worker(env, tmp_path)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as http:
            before = http.post("/v1/tasks/text.process", json={"data": "before"})
            assert before.status_code == 202

            fresh_redis.stop()
            down = http.post("/v1/tasks/text.process", json={"data": "during"})
            assert down.status_code == 503
            assert down.headers["Retry-After"] == "7"
            assert http.get(f"/v1/tasks/{before.json()['id']}").status_code == 503
            assert http.get("/v1/queues").status_code == 503
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert http.get("/healthz").status_code == 200  # alive, just not ready

            fresh_redis.start()
            after = eventually(
                lambda: (
                    r
                    if (
                        r := http.post("/v1/tasks/text.process", json={"data": "after"})
                    ).status_code
                    == 202
                    else None
                ),
                timeout_s=20,
                every_s=0.5,
            )
            assert http.get("/readyz").status_code == 200
            # The worker reconnected by itself and runs the new task.
            done = wait_for_status(http, after.json()["id"], {"SUCCESS"}, timeout_s=60)
            assert done["result"] == {"processed_data": "AFTER"}
    finally:
        worker.stop()
        api.stop()
