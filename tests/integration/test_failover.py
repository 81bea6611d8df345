"""Losing the Redis master under load: a master, two replicas and three sentinels as real
processes (tasklane_devstack.redis_sentinel), the API, two workers and beat finding the master
through the sentinels, and `make load`'s open-loop submissions at 25 tasks/s.

Each test prints what it measured (`pytest -s` shows it): accepted, refused (503), lost, run
twice and why, and how long after the failure each client worked again."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from bench.load import LoadReport, run_load
from tasklane_autoscaler.observe import backlog_client, read_queues
from tasklane_contract.queues import ALL_QUEUES
from tasklane_devstack.exporter import exporter_command, exporter_env, find_uv
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_sentinel import ReplicatedRedis
from tests.support.polling import eventually, wait_for_status
from tests.support.processes import ServiceProcess, start_api, start_worker

pytestmark = pytest.mark.slow

RATE = 25  # submissions per second, open loop
LOAD_S = 30
FAIL_AT_S = 8  # seconds into the load
BEAT_EVERY_S = 2
# Generous bounds for a loaded machine; the measured figures are printed. A failover takes
# Sentinel's down-after (5 s here, as in the chart) plus a second or two.
BOUND_S = 30
LOG_TIME = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "


class SentinelStack:
    """The API, two workers and beat, every one of them given only the sentinels."""

    def __init__(self, group: ReplicatedRedis, log_dir: Path) -> None:
        self.env = group.settings_env() | {
            "TASKLANE_WORKER_CONCURRENCY": "4",
            "TASKLANE_BEAT_SCHEDULE": json.dumps({"cleanup-submitted-index": BEAT_EVERY_S}),
        }
        self.settings = group.settings()
        self.port = free_port()
        self.processes: list[ServiceProcess] = []
        self.api = self._add(lambda: start_api(self.env, log_dir, self.port))
        self.workers = [
            self._add(lambda n=n: start_worker(self.env, log_dir, f"worker{n}")) for n in (1, 2)
        ]
        self.beat = self._add(lambda: ServiceProcess("beat", "tasklane_beat", self.env, log_dir))
        self.pids = [p.process.pid for p in self.processes]

    def _add(self, start: object) -> ServiceProcess:
        try:
            process: ServiceProcess = start()  # type: ignore[operator]
        except BaseException:
            self.stop()
            raise
        self.processes.append(process)
        return process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def all_running_as_started(self) -> bool:
        """No process exited or was replaced: nothing needed a restart."""
        return [p.process.pid for p in self.processes if p.process.poll() is None] == self.pids

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


@pytest.fixture
def group(tmp_path: Path) -> Iterator[ReplicatedRedis]:
    with ReplicatedRedis(tmp_path / "redis") as replicated:
        yield replicated


@pytest.fixture
def stack(group: ReplicatedRedis, tmp_path: Path) -> Iterator[SentinelStack]:
    started = SentinelStack(group, tmp_path)
    yield started
    started.stop()


def load_in_background(url: str) -> tuple[threading.Thread, list[LoadReport]]:
    reports: list[LoadReport] = []

    def run() -> None:
        reports.append(asyncio.run(run_load(url, rate=RATE, seconds=LOAD_S, settle_s=120)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, reports


def finish(thread: threading.Thread, reports: list[LoadReport]) -> LoadReport:
    thread.join(timeout=LOAD_S + 200)
    assert reports, "the load run did not finish"
    return reports[0]


def log_times(process: ServiceProcess, pattern: str) -> list[tuple[datetime, str]]:
    """(time, first group) of each log line matching `pattern` after the timestamp."""
    return [(at, first) for at, first, _second in log_events(process, pattern)]


def log_events(process: ServiceProcess, pattern: str) -> list[tuple[datetime, str, str]]:
    """(time, first group, second group or "") of each log line matching `pattern`, in order."""
    found = []
    for match in re.finditer(LOG_TIME + ".*" + pattern, process.log(), re.MULTILINE):
        second = match[3] if match.re.groups >= 3 else ""
        found.append((datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f"), match[2], second))
    return found


def runs_by_task(workers: list[ServiceProcess]) -> dict[str, list[datetime]]:
    """Each text.process task's runs, as when each was received: a delivery counts as a run
    when the worker logged the task succeeded after receiving it (a delivery a worker gave
    back unrun, as it does with what it holds when its connection drops, is none)."""
    runs: dict[str, list[datetime]] = {}
    for worker in workers:
        received: dict[str, datetime] = {}
        for at, task_id, event in log_events(worker, r"text\.process\[([0-9a-f-]+)\] (\w+)"):
            if event == "received":
                received[task_id] = at
            elif event == "succeeded" and task_id in received:
                runs.setdefault(task_id, []).append(received.pop(task_id))
    return runs


def received_at(workers: list[ServiceProcess]) -> list[datetime]:
    return [t for w in workers for t, _id, _ in log_events(w, r"\[([0-9a-f-]+)\] (received)")]


def run_twice(runs: dict[str, list[datetime]], failed_at: datetime) -> dict[str, str]:
    """Each task that ran more than once, and why: a first run taken from the old master
    before it failed was redelivered by the new one, which never saw that fetch or its ack."""
    why = {}
    for task_id, received in runs.items():
        if len(received) > 1:
            first = min(received)
            why[task_id] = (
                "taken from the old master before it failed; the new one had not seen the "
                "fetch or the acknowledgement, so it delivered the task again"
                if first <= failed_at
                else f"unexplained: first delivered {first}, after the failure"
            )
    return why


def beat_fired_at(beat: ServiceProcess) -> list[datetime]:
    return [t for t, _ in log_times(beat, r"Sending due task (cleanup-submitted-index)")]


def first_after(times: list[datetime], moment: datetime) -> float:
    """Seconds from `moment` to the first of `times` after it (nan if none)."""
    later = [t for t in times if t > moment]
    return (min(later) - moment).total_seconds() if later else float("nan")


def test_killed_master_loses_no_accepted_task(group: ReplicatedRedis, stack: SentinelStack) -> None:
    """kill -9 the master under load: every 202 reaches SUCCESS, each client reaches the
    promoted replica by itself, beat fires nothing twice."""
    backlog_reader = backlog_client(stack.settings)  # as the autoscaler operator makes it
    assert set(read_queues(backlog_reader, ALL_QUEUES).backlogs) == set(ALL_QUEUES)
    thread, reports = load_in_background(stack.url)
    time.sleep(FAIL_AT_S)
    old = group.master()
    failed_at, started = datetime.now(), time.monotonic()
    old.send_signal(signal.SIGKILL)
    new = group.wait_for_new_master(old)
    promoted_s = time.monotonic() - started

    def backlog_read() -> bool:
        try:
            read_queues(backlog_reader, ALL_QUEUES)
        except Exception:  # the operator logs it and polls again
            return False
        return True

    eventually(backlog_read, timeout_s=BOUND_S, every_s=0.1)
    backlog_s = time.monotonic() - started
    report = finish(thread, reports)
    runs = runs_by_task(stack.workers)
    twice = run_twice(runs, failed_at)
    lost = [i for i in report.accepted if i not in runs]
    fired = beat_fired_at(stack.beat)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fired)]
    print(
        f"\nkill -9 of the master: promoted after {promoted_s:.1f}s; sent {report.sent}, "
        f"accepted {len(report.accepted)}, refused {dict(report.rejected)}, lost {lost}, "
        f"run twice {len(twice)} {twice}; API refused for {report.longest_refusal_s():.1f}s; "
        f"workers took a task {first_after(received_at(stack.workers), failed_at):.1f}s, "
        f"the backlog was read "
        f"{backlog_s:.1f}s, beat fired {first_after(fired, failed_at):.1f}s after the kill; "
        f"beat fired {len(fired)} times, shortest gap {min(gaps, default=float('nan')):.1f}s"
    )
    assert report.all_succeeded, report.outcomes
    assert lost == []
    assert set(report.rejected) <= {"503"}, report.rejected  # refused, never a 500 or a hang
    assert report.longest_refusal_s() <= BOUND_S
    assert all(not why.startswith("unexplained") for why in twice.values()), twice
    # Nothing was restarted: the same processes served before and after the failover.
    assert stack.all_running_as_started()
    # Beat went on firing on the new master, and fired no run twice.
    assert [t for t in fired if t > failed_at], stack.beat.log()
    assert min(gaps, default=BEAT_EVERY_S) >= BEAT_EVERY_S / 2, fired
    with group.client(new) as client:
        assert client.info("replication")["role"] == "master"


def test_isolated_master_comes_back_as_a_replica_and_nothing_it_took_counts(
    group: ReplicatedRedis, stack: SentinelStack
) -> None:
    """SIGSTOP the master past Sentinel's down-after, SIGCONT after the failover: it comes
    back believing it is the master, but writes taken then would vanish when it is demoted.
    No 202 rests on it: every accepted task is on the new master and succeeds."""
    thread, reports = load_in_background(stack.url)
    time.sleep(FAIL_AT_S)
    old = group.master()
    failed_at, started = datetime.now(), time.monotonic()
    old.send_signal(signal.SIGSTOP)
    group.wait_for_new_master(old)
    promoted_s = time.monotonic() - started
    time.sleep(4)  # clients go on against the new master; the old one sleeps on
    old.send_signal(signal.SIGCONT)
    with group.client(old, socket_timeout=5) as client:
        eventually(lambda: client.info("replication")["role"] == "slave", timeout_s=60)
    demoted_s = time.monotonic() - started
    report = finish(thread, reports)
    runs = runs_by_task(stack.workers)
    twice = run_twice(runs, failed_at)
    lost = [i for i in report.accepted if i not in runs]
    print(
        f"\nmaster stopped {demoted_s:.0f}s (promoted another after {promoted_s:.1f}s): sent "
        f"{report.sent}, accepted {len(report.accepted)}, refused {dict(report.rejected)}, "
        f"lost {len(lost)}, run twice {len(twice)} {twice}; "
        f"API refused for {report.longest_refusal_s():.1f}s; workers took a task "
        f"{first_after(received_at(stack.workers), failed_at):.1f}s and beat fired "
        f"{first_after(beat_fired_at(stack.beat), failed_at):.1f}s after the stop"
    )
    assert [t for t in beat_fired_at(stack.beat) if t > failed_at], stack.beat.log()
    assert report.all_succeeded, report.outcomes
    assert lost == []
    assert set(report.rejected) <= {"503"}, report.rejected
    assert all(not why.startswith("unexplained") for why in twice.values()), twice
    assert stack.all_running_as_started()


def test_a_killed_sentinel_changes_nothing(group: ReplicatedRedis, stack: SentinelStack) -> None:
    """The first sentinel every client asks is killed under load: not one submission is
    refused, and processes started afterwards find the master through the others."""
    thread, reports = load_in_background(stack.url)
    time.sleep(3)
    group.sentinels[0].send_signal(signal.SIGKILL)
    worker = start_worker(stack.env, stack.api.log_path.parent, "late-worker")
    api = start_api(stack.env, stack.api.log_path.parent, port := free_port())
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            response = http.post("/v1/tasks/text.process", json={"data": "late"})
            assert response.status_code == 202, response.text
            done = wait_for_status(http, response.json()["id"], {"SUCCESS"}, timeout_s=60)
            assert done["result"] == {"processed_data": "LATE"}
        report = finish(thread, reports)
    finally:
        api.stop()
        worker.stop()
    print(f"\na sentinel killed: sent {report.sent}, refused {dict(report.rejected)}")
    assert report.rejected == {}
    assert len(report.accepted) == report.sent
    assert report.all_succeeded, report.outcomes
    assert stack.all_running_as_started()


def metric_total(text: str, name: str, task: str) -> float:
    """The sum of a counter's samples for one task name, from Prometheus' text format."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and f'name="{task}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_celery_exporter_and_flower_follow_the_master(
    group: ReplicatedRedis, tmp_path: Path
) -> None:
    """celery-exporter (its own Celery and kombu, sentinel URLs and transport options) and
    Flower go on counting and listing the tasks run after a failover, without a restart."""
    uv = find_uv()
    assert uv, "uv runs celery-exporter in its own environment"
    exporter_port, flower_port, api_port = free_port(), free_port(), free_port()
    settings = group.settings().model_copy(update={"exporter_port": exporter_port})
    env = group.settings_env()
    api = start_api(env, tmp_path, api_port)
    worker = start_worker(env, tmp_path)
    exporter = subprocess.Popen(
        exporter_command(uv, settings),
        env={**os.environ, **exporter_env(settings)},
        stdout=(tmp_path / "exporter.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    flower = ServiceProcess(
        "flower",
        "tasklane_flower",
        {**env, "FLOWER_BASIC_AUTH": "ops:pw"},
        tmp_path,
        f"--port={flower_port}",
        "--address=127.0.0.1",
    )

    def exporter_counts(succeeded: float) -> bool:
        try:
            text = httpx.get(f"http://127.0.0.1:{exporter_port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return False
        return metric_total(text, "celery_task_succeeded_total", "text.process") >= succeeded

    def flower_lists(task_id: str) -> bool:
        try:
            response = httpx.get(
                f"http://127.0.0.1:{flower_port}/api/task/info/{task_id}", auth=("ops", "pw")
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("state") == "SUCCESS"

    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as http:

            def accepted(data: str) -> httpx.Response | None:
                response = http.post("/v1/tasks/text.process", json={"data": data})
                return response if response.status_code == 202 else None

            def run_one(data: str) -> str:
                answer = eventually(lambda: accepted(data), timeout_s=BOUND_S, every_s=0.2)
                task_id = str(answer.json()["id"])
                wait_for_status(http, task_id, {"SUCCESS"}, timeout_s=60)
                return task_id

            def until_both_see_one(since: float, seen_before: float) -> tuple[float, float]:
                """Seconds from `since` until Flower listed, and celery-exporter counted, a
                task run now. Events are Redis pub/sub: those sent before a listener
                subscribed (again) never reach it. So a task runs, each listener has a few
                seconds to show it, and another runs until both have."""
                flower_s: float | None = None
                exporter_s: float | None = None
                while flower_s is None or exporter_s is None:
                    assert time.monotonic() - since < 120, (flower_s, exporter_s)
                    task_id = run_one("listened")
                    looking_until = time.monotonic() + 3
                    while time.monotonic() < looking_until:
                        if flower_s is None and flower_lists(task_id):
                            flower_s = time.monotonic() - since
                        if exporter_s is None and exporter_counts(seen_before + 1):
                            exporter_s = time.monotonic() - since
                        if flower_s is not None and exporter_s is not None:
                            break
                        time.sleep(0.2)
                return flower_s, exporter_s

            until_both_see_one(time.monotonic(), 0)
            seen_before = metric_total(
                httpx.get(f"http://127.0.0.1:{exporter_port}/metrics").text,
                "celery_task_succeeded_total",
                "text.process",
            )
            old = group.master()
            started = time.monotonic()
            old.send_signal(signal.SIGKILL)
            group.wait_for_new_master(old)
            flower_s, exporter_s = until_both_see_one(started, seen_before)
        print(
            f"\nafter kill -9: Flower listed a new task {flower_s:.1f}s, celery-exporter "
            f"counted one {exporter_s:.1f}s after the master died"
        )
        assert exporter.poll() is None and flower.process.poll() is None
        queues = httpx.get(
            f"http://127.0.0.1:{flower_port}/api/queues/length", auth=("ops", "pw"), timeout=10
        )
        assert queues.status_code == 200, queues.text  # Flower reads the new master's queues
    finally:
        exporter.terminate()
        exporter.wait(20)
        flower.stop()
        worker.stop()
        api.stop()
