"""`make bench`: each figure for tasklane and for the textbook baseline, measured one after the
other on the same machine, and their ratio. Prints a table; writes bench/latest.json."""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import redis

from bench import wrk
from bench.processes import Process, python
from bench.targets import TARGETS, Target
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_sentinel import ReplicatedRedis
from tasklane_devstack.redis_server import RedisServer

RESULT_KEY = "celery-task-meta-{}"
OUTPUT = Path(__file__).with_name("latest.json")


def wait_http(process: Process, url: str) -> None:
    def up() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    process.wait_until(up)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def finished_at(client: redis.Redis, task_id: str) -> float | None:
    raw = client.get(RESULT_KEY.format(task_id))
    if raw is None:
        return None
    meta = json.loads(raw)
    if meta.get("status") != "SUCCESS":
        return None
    return datetime.fromisoformat(meta["date_done"]).timestamp()


def submit_to_result(
    base: str, client: redis.Redis, rate: float, seconds: float
) -> dict[str, float]:
    """Submit at a fixed rate; latency = the worker's date_done - the client's send time."""
    sent: list[tuple[str, float]] = []
    with httpx.Client(base_url=base, timeout=10) as http:
        interval = 1 / rate
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = start + n * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.time()
            response = http.post("/v1/tasks/text.process", json={"data": "hello"})
            sent.append((response.json()["id"], t0))
    latencies = []
    deadline = time.monotonic() + 30
    for task_id, t0 in sent:
        while (done := finished_at(client, task_id)) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if done is not None:
            latencies.append((done - t0) * 1000)
    return {
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "completed": float(len(latencies)),
        "sent": float(len(sent)),
    }


def worker_throughput(
    target: Target, redis_url: str, client: redis.Redis, logs: Path, tasks: int
) -> tuple[float, dict[str, float]]:
    ids = target.queue_tasks(redis_url, tasks)
    worker = target.start_worker(redis_url, logs)
    try:
        worker.wait_until(lambda: " ready." in worker.log(), timeout_s=60)
        started = time.perf_counter()
        keys = [RESULT_KEY.format(i) for i in ids]
        deadline = time.monotonic() + 300
        while client.exists(*keys) < tasks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{target.name}'s worker did not finish {tasks} tasks")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        return tasks / elapsed, worker.peak_rss_mib()
    finally:
        worker.stop()


PARTS = ("enqueue", "status", "latency", "worker", "replicated")


def measure(
    target: Target, work: Path, seconds: int, connections: int, tasks: int, parts: set[str]
) -> dict[str, Any]:
    logs = work / target.name
    logs.mkdir()
    figures: dict[str, Any] = {}
    with RedisServer(free_port(), logs / "redis") as server:
        client = redis.Redis.from_url(server.url)
        if parts & {"enqueue", "status", "latency"}:
            figures |= measure_api(
                target, server.url, client, work, logs, seconds, connections, parts
            )
        if "worker" in parts:
            client.flushall()
            throughput, worker_rss = worker_throughput(target, server.url, client, logs, tasks)
            figures["worker_tasks_per_s"] = throughput
            figures["rss_worker_mib"] = worker_rss
        client.close()
    return figures


def measure_api(
    target: Target,
    redis_url: str,
    client: redis.Redis,
    work: Path,
    logs: Path,
    seconds: int,
    connections: int,
    parts: set[str],
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = target.start_api(redis_url, port, logs)
    try:
        wait_http(api, f"{base}/docs")
        if "enqueue" in parts:
            figures["enqueue"] = wrk.run(
                f"{base}/v1/tasks/text.process",
                work,
                post=True,
                seconds=seconds,
                connections=connections,
            )
        client.flushall()
        if parts & {"status", "latency"}:
            worker = target.start_worker(redis_url, logs)
            try:
                worker.wait_until(lambda: " ready." in worker.log(), timeout_s=60)
                task_id = httpx.post(f"{base}/v1/tasks/text.process", json={"data": "x"}).json()[
                    "id"
                ]
                while finished_at(client, task_id) is None:
                    time.sleep(0.05)
                if "status" in parts:
                    figures["status"] = wrk.run(
                        f"{base}/v1/tasks/{task_id}",
                        work,
                        post=False,
                        seconds=seconds,
                        connections=connections,
                    )
                if "latency" in parts:
                    figures["submit_to_result"] = submit_to_result(
                        base, client, rate=20, seconds=seconds
                    )
            finally:
                worker.stop()
        figures["rss_api_mib"] = api.peak_rss_mib()["main"]
    finally:
        api.stop()
    return figures


def measure_replicated(work: Path, seconds: int, connections: int) -> dict[str, Any]:
    """tasklane's enqueue when every 202 waits for a replica's acknowledgement: a master, two
    replicas and three sentinels on this machine (tasklane_devstack.redis_sentinel), the API
    finding the master through the sentinels, TASKLANE_REDIS_MIN_REPLICA_ACKS at its default of
    one."""
    logs = work / "tasklane-replicated"
    logs.mkdir()
    with ReplicatedRedis(logs / "redis") as group:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = group.settings_env() | {
            "TASKLANE_LOG_LEVEL": "WARNING",
            "TASKLANE_API_PORT": str(port),
        }
        api = Process("tasklane-replicated-api", python("-m", "tasklane_api"), env, logs)
        try:
            wait_http(api, f"{base}/docs")
            enqueue = wrk.run(
                f"{base}/v1/tasks/text.process",
                work,
                post=True,
                seconds=seconds,
                connections=connections,
            )
        finally:
            api.stop()
    return {"enqueue": enqueue}


ROWS = (
    ("enqueue req/s", ("enqueue", "rps"), "higher"),
    ("enqueue p50 ms", ("enqueue", "p50_ms"), "lower"),
    ("enqueue p99 ms", ("enqueue", "p99_ms"), "lower"),
    ("status req/s", ("status", "rps"), "higher"),
    ("status p99 ms", ("status", "p99_ms"), "lower"),
    ("submit→result p50 ms", ("submit_to_result", "p50_ms"), "lower"),
    ("submit→result p99 ms", ("submit_to_result", "p99_ms"), "lower"),
    ("worker tasks/s", ("worker_tasks_per_s",), "higher"),
    ("API peak RSS MiB", ("rss_api_mib",), "lower"),
    ("worker peak RSS MiB", ("rss_worker_mib", "main"), "lower"),
    ("worker child RSS MiB", ("rss_worker_mib", "largest_child"), "lower"),
)


def lookup(figures: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = figures
    for key in path:
        value = value.get(key, float("nan")) if isinstance(value, dict) else float("nan")
    return float(value)


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'figure':<24}{'tasklane':>12}{'baseline':>12}{'ratio':>9}"]
    for label, path, _better in ROWS:
        ours, theirs = lookup(results["tasklane"], path), lookup(results["baseline"], path)
        if math.isnan(ours) and math.isnan(theirs):
            continue  # a part left out with --only
        ratio = ours / theirs if theirs else float("nan")
        lines.append(f"{label:<24}{ours:>12.1f}{theirs:>12.1f}{ratio:>8.2f}x")
    return "\n".join(lines)


REPLICATED_ROWS = ROWS[:3]


def replicated_table(results: dict[str, dict[str, Any]]) -> str:
    """tasklane's enqueue figures on one Redis beside those with a replica's acknowledgement."""
    lines = [
        "enqueue, each 202 acknowledged by a replica (TASKLANE_REDIS_MIN_REPLICA_ACKS=1):",
        f"{'figure':<24}{'one Redis':>12}{'replicated':>12}{'ratio':>9}",
    ]
    for label, path, _better in REPLICATED_ROWS:
        alone = lookup(results.get("tasklane", {}), path)
        replicated = lookup(results["tasklane-replicated"], path)
        ratio = replicated / alone if alone else float("nan")
        lines.append(f"{label:<24}{alone:>12.1f}{replicated:>12.1f}{ratio:>8.2f}x")
    refused = lookup(results["tasklane-replicated"], ("enqueue", "errors"))
    lines.append(f"{'not 202 (503 refused)':<24}{'':>12}{refused:>12.0f}")
    return "\n".join(lines)


def targets_met(results: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """Each target whose figures this run measured, and whether it is met."""
    if "tasklane" not in results:
        return {}
    ours, theirs = results["tasklane"], results["baseline"]
    met = {}
    if "enqueue" in ours:
        met["enqueue >= 3x baseline"] = ours["enqueue"]["rps"] >= 3 * theirs["enqueue"]["rps"]
        met["enqueue p99 <= 0.5x baseline"] = (
            ours["enqueue"]["p99_ms"] <= 0.5 * theirs["enqueue"]["p99_ms"]
        )
    if "status" in ours:
        met["status >= 3x baseline"] = ours["status"]["rps"] >= 3 * theirs["status"]["rps"]
    if "worker_tasks_per_s" in ours:
        met["worker >= baseline defaults"] = (
            ours["worker_tasks_per_s"] >= theirs["worker_tasks_per_s"]
        )
    if "submit_to_result" in ours:
        met["submit->result p50 <= 5 ms"] = ours["submit_to_result"]["p50_ms"] <= 5.0
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="length of each load phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tasks", type=int, default=2000, help="tasks for worker throughput")
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="measure only this part (repeatable); a partial run does not write latest.json",
    )
    options = parser.parse_args()
    parts = set(options.only or PARTS)
    wrk.require_wrk()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="tasklane-bench-") as work:
        for target in TARGETS:
            if not parts & {"enqueue", "status", "latency", "worker"}:
                break
            print(f"measuring {target.name}...", flush=True)
            results[target.name] = measure(
                target, Path(work), options.seconds, options.connections, options.tasks, parts
            )
        if "replicated" in parts:
            print("measuring tasklane with a replica's acknowledgement...", flush=True)
            results["tasklane-replicated"] = measure_replicated(
                Path(work), options.seconds, options.connections
            )
    met = targets_met(results)
    if parts == set(PARTS):
        OUTPUT.write_text(json.dumps({"results": results, "targets": met}, indent=2))
    print()
    if "tasklane" in results:
        print(table(results))
        print()
    if "tasklane-replicated" in results:
        print(replicated_table(results))
        print()
    for name, ok in met.items():
        print(f"  {'met' if ok else 'NOT met':<8} {name}")
    if parts == set(PARTS):
        print(f"\nfigures in {OUTPUT}")


if __name__ == "__main__":
    main()
