"""Fixtures that start real servers on free ports and stop them afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.processes import ServiceProcess, start_api, start_worker

E2E_DIR = Path(__file__).parent / "e2e"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/e2e drives a live cluster (`make e2e`): it is collected only when named on the
    command line, never by a bare `pytest` (`make test`)."""
    if collection_path != E2E_DIR:
        return None
    here = config.invocation_params.dir
    paths = [(here / arg.split("::")[0]).resolve() for arg in config.args]
    return None if any(path.is_relative_to(E2E_DIR) for path in paths) else True


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(free_port(), tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def fresh_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, for tests that stop it or need it empty."""
    with RedisServer(free_port(), tmp_path / "redis") as server:
        yield server


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@dataclass
class Stack:
    redis: RedisServer
    api: ServiceProcess
    worker: ServiceProcess
    base_url: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API and one worker on the session's Redis."""
    logs = tmp_path_factory.mktemp("stack-logs")
    env = {
        "TASKLANE_REDIS_URL": redis_server.url,
        "TASKLANE_WORKER_CONCURRENCY": "4",
        "TASKLANE_MAX_BODY_BYTES": "4096",
    }
    port = free_port()
    api = start_api(env, logs, port)
    try:
        worker = start_worker(env, logs)
    except BaseException:
        api.stop()
        raise
    yield Stack(redis_server, api, worker, f"http://127.0.0.1:{port}", env)
    worker.stop()
    api.stop()


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=10) as http:
        yield http
