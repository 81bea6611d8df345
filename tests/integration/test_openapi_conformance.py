"""schemathesis drives the running API from its own OpenAPI schema: no answer is a 5xx, every
answer matches the schema (status codes, content types, bodies)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tasklane_api.app import create_app
from tasklane_contract.settings import Settings
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.processes import start_api

schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.hook("map_body")
def integers_written_as_integers(context: schemathesis.HookContext, body: Any) -> Any:
    """JSON Schema 2020-12 counts 9.0 as an `integer`, and schemathesis sends some; tasklane
    refuses them (each integer argument's schema says so in words, which JSON Schema has no
    keyword for), so a whole float is sent as the integer it stands for. A `number` argument
    takes either spelling."""
    if isinstance(body, float) and body.is_integer():
        return int(body)
    if isinstance(body, dict):
        return {key: integers_written_as_integers(context, value) for key, value in body.items()}
    if isinstance(body, list):
        return [integers_written_as_integers(context, value) for value in body]
    return body


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An API on a Redis of its own and no worker: generated tasks just wait in their queues."""
    logs: Path = tmp_path_factory.mktemp("schemathesis")
    with RedisServer(free_port(), logs / "redis") as redis_server:
        port = free_port()
        # Bodies up to 1 MiB reach validation, which answers 422 for overlong fields.
        env = {"TASKLANE_REDIS_URL": redis_server.url, "TASKLANE_MAX_BODY_BYTES": str(2**20)}
        api = start_api(env, logs, port)
        yield f"http://127.0.0.1:{port}"
        api.stop()


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any], api_url: str) -> None:
    case.call_and_validate(base_url=api_url)
