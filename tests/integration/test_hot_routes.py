"""The hot-path middleware answers exactly as the FastAPI routes it stands in front of: the same
requests, sent to the API with it and to the same API without it (both on one real Redis), get
the same status codes, headers and bodies, refusals and outages included."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tasklane_api.app import create_app
from tasklane_api.hot_routes import HotRoutes
from tasklane_contract.settings import Settings
from tasklane_devstack.redis_server import RedisServer

Pair = tuple[TestClient, TestClient]


def without_hot_routes(app: FastAPI) -> FastAPI:
    hot_routes: object = HotRoutes
    app.user_middleware = [m for m in app.user_middleware if m.cls is not hot_routes]
    return app


@pytest.fixture
def settings(fresh_redis: RedisServer) -> dict[str, Any]:
    # A Redis of the test's own: no worker changes a task's state between the two reads.
    return {"redis_url": fresh_redis.url, "max_body_bytes": 512, "retry_after_s": 7}


def started_pair(stack: ExitStack, **settings: Any) -> Pair:
    """(with the hot path, without it), each started with its lifespan."""
    hot = TestClient(create_app(Settings(**settings)))
    plain = TestClient(without_hot_routes(create_app(Settings(**settings))))
    return stack.enter_context(hot), stack.enter_context(plain)


@pytest.fixture
def pair(settings: dict[str, Any]) -> Iterator[Pair]:
    with ExitStack() as stack:
        yield started_pair(stack, **settings)


def same_answer(pair: Pair, method: str, url: str, **kwargs: Any) -> httpx.Response:
    hot: httpx.Response = pair[0].request(method, url, **kwargs)
    plain: httpx.Response = pair[1].request(method, url, **kwargs)
    assert (hot.status_code, hot.headers.items(), hot.content) == (
        plain.status_code,
        plain.headers.items(),
        plain.content,
    )
    return hot


SUBMIT = "/v1/tasks/text.process"


@pytest.mark.parametrize(
    ("url", "kwargs", "status"),
    [
        ("/v1/tasks/no.such.task", {"json": {}}, 404),
        (SUBMIT, {"json": {"data": 5}}, 422),
        (SUBMIT, {"json": {"data": "x", "extra": 1}}, 422),
        (SUBMIT, {"content": b"[1, 2]"}, 422),
        (SUBMIT, {"content": b"{not json"}, 422),
        (SUBMIT, {"content": b""}, 422),
        (SUBMIT, {"json": {"data": "x" * 1000}}, 413),
        (SUBMIT, {"json": {"data": "x"}, "headers": {"Idempotency-Key": "has space"}}, 422),
        ("/v1/tasks/" + "n" * 101, {"json": {}}, 422),  # past the hot path: FastAPI refuses
    ],
)
def test_refused_submissions(pair: Pair, url: str, kwargs: dict[str, Any], status: int) -> None:
    assert same_answer(pair, "POST", url, **kwargs).status_code == status


def test_accepted_submission_and_its_replay(pair: Pair) -> None:
    hot, plain = pair
    key = {"Idempotency-Key": f"hot-routes-{id(pair)}"}
    first = hot.post(SUBMIT, json={"data": "x"}, headers=key)
    assert first.status_code == 202
    assert first.headers["Location"] == f"/v1/tasks/{first.json()['id']}"
    # A replay returns the first submission, so both paths must answer byte for byte alike,
    # and alike to the first answer but for the replay header.
    replay = same_answer(pair, "POST", SUBMIT, json={"data": "x"}, headers=key)
    assert replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    conflict = same_answer(pair, "POST", SUBMIT, json={"data": "y"}, headers=key)
    assert conflict.status_code == 409
    # A new submission without the hot path has the same shape (its id and time are new).
    fresh = plain.post(SUBMIT, json={"data": "x"})
    assert (fresh.status_code, set(fresh.headers), set(fresh.json())) == (
        first.status_code,
        set(first.headers),
        set(first.json()),
    )


def test_status_reads(pair: Pair) -> None:
    task_id = pair[0].post(SUBMIT, json={"data": "x"}).json()["id"]
    assert same_answer(pair, "GET", f"/v1/tasks/{task_id}").json()["status"] == "PENDING"
    assert same_answer(pair, "GET", "/v1/tasks/never-submitted").status_code == 404
    assert same_answer(pair, "GET", "/v1/tasks/" + "i" * 65).status_code == 422
    # Methods and paths the hot path leaves alone.
    assert same_answer(pair, "PUT", f"/v1/tasks/{task_id}").status_code == 405
    trailing_slash = same_answer(pair, "GET", f"/v1/tasks/{task_id}/", follow_redirects=False)
    assert trailing_slash.status_code == 307


def test_requests_are_counted_under_their_route(pair: Pair) -> None:
    hot, _ = pair
    hot.get("/v1/tasks/never-submitted")
    hot.post("/v1/tasks/no.such.task", json={})
    metrics = hot.get("/metrics").text
    assert 'route="/v1/tasks/{task_id}",status="404"' in metrics
    assert 'route="/v1/tasks/{name}",status="404"' in metrics


def test_api_keys(settings: dict[str, Any]) -> None:
    with ExitStack() as stack:
        pair = started_pair(stack, **settings, api_keys="secret-key")
        refused = same_answer(pair, "POST", SUBMIT, json={"data": "x"})
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert (
            same_answer(pair, "GET", "/v1/tasks/x", headers={"X-API-Key": "no"}).status_code == 401
        )
        accepted = pair[0].post(SUBMIT, json={"data": "x"}, headers={"X-API-Key": "secret-key"})
        assert accepted.status_code == 202
        read = same_answer(
            pair,
            "GET",
            f"/v1/tasks/{accepted.json()['id']}",
            headers={"Authorization": "Bearer secret-key"},
        )
        assert read.status_code == 200


def test_rate_limit(settings: dict[str, Any]) -> None:
    with ExitStack() as stack:
        hot, plain = started_pair(stack, **settings, rate_limit_per_minute=1)
        # One budget for both (same client, same Redis): the first passes, then both refuse.
        assert hot.post(SUBMIT, json={"data": "x"}).status_code == 202
        for client in (hot, plain):
            refused = client.post(SUBMIT, json={"data": "x"})
            assert refused.status_code == 429
            assert int(refused.headers["Retry-After"]) > 0


def test_redis_down_is_503(settings: dict[str, Any], fresh_redis: RedisServer) -> None:
    with ExitStack() as stack:
        pair = started_pair(stack, **settings)
        task_id = pair[0].post(SUBMIT, json={"data": "x"}).json()["id"]
        fresh_redis.stop()
        down = same_answer(pair, "POST", SUBMIT, json={"data": "x"})
        assert (down.status_code, down.headers["Retry-After"]) == (503, "7")
        assert same_answer(pair, "GET", f"/v1/tasks/{task_id}").status_code == 503
