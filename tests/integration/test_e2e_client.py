"""The end-to-end suite's in-cluster client (tests/e2e/in_cluster.py), run as the suite runs it
in a pod (`python -c <source> <command>`, the request on stdin) against a real API: it submits
and follows tasks, and tells a 503 with Retry-After from a refused connection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tasklane_devstack.ports import free_port
from tests.conftest import Stack
from tests.e2e.kube import IN_CLUSTER
from tests.support.processes import start_api


def _run(command: str, request: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", IN_CLUSTER.read_text(), command],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_submits_and_follows_tasks_to_success(stack: Stack) -> None:
    request = {"api": stack.base_url, "key": "unused"}
    submitted = _run(
        "submit", {**request, "name": "text.process", "args": {"data": "a"}, "count": 5, "rate": 50}
    )
    assert len(submitted["accepted"]) == 5 and submitted["rejected"] == {}
    bad = {"name": "text.process", "args": {}, "count": 2, "rate": 50}
    invalid = _run("submit", {**request, **bad})
    assert invalid == {"accepted": [], "rejected": {"422": 2}}
    done = _run("wait", {**request, "ids": submitted["accepted"], "timeout_s": 60})
    assert done["statuses"] == {"SUCCESS": 5}


def test_tells_a_503_with_retry_after_from_a_refused_connection(tmp_path: Path) -> None:
    # An API whose Redis is not there answers 503; a port nobody listens on refuses.
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    port = free_port()
    api = start_api({"TASKLANE_REDIS_URL": nowhere, "TASKLANE_RETRY_AFTER_S": "4"}, tmp_path, port)
    try:
        watch = {"key": "k", "name": "text.process", "args": {"data": "x"}, "seconds": 1.5}
        answered = _run("watch", {**watch, "api": f"http://127.0.0.1:{port}", "every_s": 0.5})
    finally:
        api.stop()
    refused = _run("watch", {**watch, "api": f"http://127.0.0.1:{port}", "every_s": 0.5})
    assert answered["outcomes"] and {(o[1], o[2]) for o in answered["outcomes"]} == {(503, "4")}
    assert refused["outcomes"] and {(o[1], o[2]) for o in refused["outcomes"]} == {
        ("refused", None)
    }
