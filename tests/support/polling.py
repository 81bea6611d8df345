from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout_s: float = 20.0, every_s: float = 0.05) -> T:
    """The first truthy value `probe` returns within the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met in {timeout_s}s (last value {value!r})")
        time.sleep(every_s)


def wait_for_status(
    client: httpx.Client, task_id: str, statuses: set[str], timeout_s: float = 20.0
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/v1/tasks/{task_id}").json()
        return body if body.get("status") in statuses else None

    return eventually(probe, timeout_s)
