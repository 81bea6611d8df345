from __future__ import annotations

from pathlib import Path

import httpx

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.polling import wait_for_status
from tests.support.processes import start_api, start_worker


def test_revoking_a_running_task_stops_it(client: httpx.Client) -> None:
    task_id = client.post("/v1/tasks/demo.sleep", json={"seconds": 60}).json()["id"]
    wait_for_status(client, task_id, {"STARTED"})
    response = client.delete(f"/v1/tasks/{task_id}")
    assert response.status_code == 202
    assert response.json()["status"] == "REVOKED"
    assert (
        wait_for_status(client, task_id, {"REVOKED", "SUCCESS"}, timeout_s=15)["status"]
        == "REVOKED"
    )


def test_finished_task_cannot_be_revoked(client: httpx.Client) -> None:
    task_id = client.post("/v1/tasks/text.process", json={"data": "x"}).json()["id"]
    wait_for_status(client, task_id, {"SUCCESS"})
    assert client.delete(f"/v1/tasks/{task_id}").status_code == 409


def test_revoke_before_any_worker_is_up_is_honoured(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    """The revoke broadcast reaches only live workers; the marker in Redis reaches the rest."""
    env = {"TASKLANE_REDIS_URL": fresh_redis.url}
    port = free_port()
    api = start_api(env, tmp_path, port)
    worker = None
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            revoked = http.post("/v1/tasks/text.process", json={"data": "never"}).json()["id"]
            kept = http.post("/v1/tasks/text.process", json={"data": "kept"}).json()["id"]
            assert http.delete(f"/v1/tasks/{revoked}").status_code == 202
            worker = start_worker(env, tmp_path)
            assert wait_for_status(http, kept, {"SUCCESS"})["result"] == {"processed_data": "KEPT"}
            final = wait_for_status(http, revoked, {"REVOKED", "SUCCESS"})
            assert final["status"] == "REVOKED"
            assert final["result"] is None
    finally:
        if worker is not None:
            worker.stop()
        api.stop()
