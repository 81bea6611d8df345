"""API keys and per-client submission limits, on a real API process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.processes import ServiceProcess, start_api

KEYS = ("first-key-0123456789", "second-key-9876543210")


@pytest.fixture
def secured_api(fresh_redis: RedisServer, tmp_path: Path) -> Iterator[tuple[str, ServiceProcess]]:
    env = {
        "TASKLANE_REDIS_URL": fresh_redis.url,
        "TASKLANE_API_KEYS": ",".join(KEYS),
        "TASKLANE_RATE_LIMIT_PER_MINUTE": "3",
        "TASKLANE_LOG_LEVEL": "DEBUG",  # the most talkative logs still carry no key
    }
    api = start_api(env, tmp_path, port := free_port())
    yield f"http://127.0.0.1:{port}", api
    api.stop()


def test_v1_needs_a_known_key_and_probes_do_not(secured_api: tuple[str, ServiceProcess]) -> None:
    base, api = secured_api
    with httpx.Client(base_url=base, timeout=10) as http:
        body = {"data": "x"}
        missing = http.post("/v1/tasks/text.process", json=body)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        wrong = {"Authorization": "Bearer not-a-key"}
        assert http.post("/v1/tasks/text.process", json=body, headers=wrong).status_code == 401
        assert http.get("/v1/task-types", headers={"X-API-Key": KEYS[0][:-1]}).status_code == 401
        assert http.get("/v1/queues").status_code == 401

        bearer = {"Authorization": f"Bearer {KEYS[1]}"}
        accepted = http.post("/v1/tasks/text.process", json=body, headers=bearer)
        assert accepted.status_code == 202
        header = {"X-API-Key": KEYS[0]}
        assert http.get(f"/v1/tasks/{accepted.json()['id']}", headers=header).status_code == 200

        for probe in ("/healthz", "/readyz", "/metrics"):
            assert http.get(probe).status_code == 200
        schema = http.get("/openapi.json").json()
        assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey"}
        assert "401" in schema["paths"]["/v1/tasks/text.process"]["post"]["responses"]
    api_log = api.log()
    assert "POST /v1/tasks/text.process" in api_log  # the access log is on
    assert not any(key in api_log for key in KEYS)


def test_submissions_over_the_limit_get_429(secured_api: tuple[str, ServiceProcess]) -> None:
    base, _api = secured_api
    first = {"Authorization": f"Bearer {KEYS[0]}"}
    second = {"Authorization": f"Bearer {KEYS[1]}"}
    with httpx.Client(base_url=base, timeout=10) as http:
        responses = [
            http.post("/v1/tasks/text.process", json={"data": "x"}, headers=first) for _ in range(8)
        ]
        codes = [r.status_code for r in responses]
        # 3 per window; a minute boundary inside the loop can grant one more window's worth.
        assert 3 <= codes.count(202) <= 6, codes
        over = next(r for r in responses if r.status_code == 429)
        assert 1 <= int(over.headers["Retry-After"]) <= 60
        assert "3 submissions per minute" in over.json()["detail"]
        # Each client has its own budget; reads are never limited.
        assert (
            http.post("/v1/tasks/text.process", json={"data": "y"}, headers=second).status_code
            == 202
        )
        assert http.get("/v1/task-types", headers=first).status_code == 200
        metrics = http.get("/metrics").text
        assert 'reason="rate_limited",task="text.process"' in metrics
