"""A wrong Redis password reads as a misconfiguration, not an outage: the API says
"authentication failed" in its answers and /readyz, and logs it once per change of state; the
worker says it in one line per attempt, naming what to change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.metrics import sample_value
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess, start_api

RIGHT, WRONG = "right-password", "wrong-password"
REFUSED = "refused the API's password (authentication failed"


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(free_port(), tmp_path / "redis", password=RIGHT) as server:
        yield server


def env_with(server: RedisServer, password: str) -> dict[str, str]:
    return {
        "TASKLANE_REDIS_URL": f"redis://127.0.0.1:{server.port}/0",
        "TASKLANE_REDIS_PASSWORD": password,
    }


@pytest.mark.slow
def test_api_names_a_refused_password_and_logs_it_once_per_change(
    password_redis: RedisServer, tmp_path: Path
) -> None:
    api = start_api(env_with(password_redis, WRONG), tmp_path, port := free_port())
    admin = redis.Redis.from_url(password_redis.url)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(5):
                refused = http.post("/v1/tasks/text.process", json={"data": "x"})
                assert refused.status_code == 503
                assert "Retry-After" in refused.headers
                assert "authentication failed" in refused.json()["detail"]
                assert http.get("/v1/queues").status_code == 503
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["reason"] == "redis: authentication failed"
            rejected = sample_value(
                http.get("/metrics").text,
                "tasklane_api_tasks_rejected_total",
                task="text.process",
                reason="redis_authentication_failed",
            )
            assert rejected == 5

            # Redis takes the API's password now: the API recovers by itself.
            admin.config_set("requirepass", WRONG)

            def accepted() -> bool:
                response = http.post("/v1/tasks/text.process", json={"data": "x"})
                return response.status_code == 202

            eventually(accepted, timeout_s=20, every_s=0.2)
            assert http.get("/readyz").status_code == 200

            # And back: connections already open stay authenticated, new ones are refused.
            admin = redis.Redis.from_url(f"redis://:{WRONG}@127.0.0.1:{password_redis.port}/0")
            admin.config_set("requirepass", RIGHT)
            admin.client_kill_filter(_type="normal", skipme=True)
            eventually(
                lambda: http.get("/readyz").json().get("reason") == "redis: authentication failed"
            )
            for _ in range(3):
                assert http.post("/v1/tasks/text.process", json={"data": "x"}).status_code == 503
    finally:
        admin.close()
        api.stop()
    log = api.log()
    # Two changes into the refused state, one out of it, for dozens of requests.
    assert log.count(REFUSED) == 2, log
    assert "TASKLANE_REDIS_PASSWORD" in log
    assert log.count("answers again (was authentication failed)") == 1, log
    assert WRONG not in log and RIGHT not in log


@pytest.mark.slow
def test_worker_says_authentication_failed_in_one_line(
    password_redis: RedisServer, tmp_path: Path
) -> None:
    worker = ServiceProcess("worker", "tasklane_worker", env_with(password_redis, WRONG), tmp_path)
    try:
        worker.wait_for_log("(2/None)", timeout_s=60)  # two attempts logged
    finally:
        worker.stop()
    log = worker.log()
    attempts = [line for line in log.splitlines() if "authentication failed" in line]
    assert len(attempts) >= 2, log
    for line in attempts:
        assert "refused the worker's password" in line
        assert "TASKLANE_REDIS_PASSWORD" in line
        assert "Trying again in" in line  # the retry is on the same line
    assert "Cannot connect to" not in log
    assert "Traceback" not in log
    assert WRONG not in log and RIGHT not in log
