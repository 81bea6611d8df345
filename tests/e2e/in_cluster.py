"""The API client the end-to-end suite runs inside the cluster, so that every request goes
through the API's Service as any client's would (a port-forward would pick one pod instead).

It runs in a pod of the api image, whose Python standard library is all it uses:
`python -c <this file's source> <command>` with the request as JSON on stdin; it prints one
JSON document. The suite also imports it to read its answers."""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any

TERMINAL = ("SUCCESS", "FAILURE", "REVOKED")


def call(
    api: str, key: str, method: str, path: str, body: Any = None, timeout_s: float = 10
) -> tuple[int | str, dict[str, str], Any]:
    """(HTTP status, or the name of the connection failure, headers, JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    request = urllib.request.Request(api + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return answer.status, dict(answer.headers), _json(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), _json(error.read())
    except urllib.error.URLError as error:
        return failure_name(error.reason), {}, None
    except (OSError, TimeoutError) as error:
        return failure_name(error), {}, None


def failure_name(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "refused"
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(reason, ConnectionResetError):
        return "reset"
    return type(reason).__name__


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def submit(request: dict[str, Any]) -> dict[str, Any]:
    """`count` tasks `name`(`args`), `rate` a second: the ids accepted, the rest by status."""
    accepted: list[str] = []
    rejected: dict[str, int] = {}
    started = time.monotonic()
    for n in range(request["count"]):
        time.sleep(max(0.0, started + n / request["rate"] - time.monotonic()))
        status, _, body = call(
            request["api"], request["key"], "POST", f"/v1/tasks/{request['name']}", request["args"]
        )
        if status == 202:
            accepted.append(body["id"])
        else:
            rejected[str(status)] = rejected.get(str(status), 0) + 1
    return {"accepted": accepted, "rejected": rejected}


def wait(request: dict[str, Any]) -> dict[str, Any]:
    """Polls the tasks `ids` until each has ended or `timeout_s` passed: the count of each
    last status, and how long it took."""
    started = time.monotonic()
    last = dict.fromkeys(request["ids"], "UNKNOWN")
    while True:
        for task_id, status in last.items():
            if status not in TERMINAL:
                code, _, body = call(request["api"], request["key"], "GET", f"/v1/tasks/{task_id}")
                last[task_id] = body["status"] if code == 200 else f"HTTP {code}"
        if all(s in TERMINAL for s in last.values()):
            break
        if time.monotonic() - started > request["timeout_s"]:
            break
        time.sleep(1)
    counts: dict[str, int] = {}
    for status in last.values():
        counts[status] = counts.get(status, 0) + 1
    return {"statuses": counts, "waited_s": round(time.monotonic() - started, 1)}


def watch(request: dict[str, Any]) -> dict[str, Any]:
    """Submits `name`(`args`) every `every_s` for `seconds`: each answer's time, status (or
    connection failure) and Retry-After."""
    outcomes = []
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < request["seconds"]:
        status, headers, _ = call(
            request["api"],
            request["key"],
            "POST",
            f"/v1/tasks/{request['name']}",
            request["args"],
            timeout_s=request.get("timeout_s", 10),
        )
        retry_after = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        outcomes.append([round(elapsed, 1), status, retry_after])
        time.sleep(max(0.0, started + len(outcomes) * request["every_s"] - time.monotonic()))
    return {"outcomes": outcomes}


COMMANDS = {"submit": submit, "wait": wait, "watch": watch}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](json.load(sys.stdin))))
