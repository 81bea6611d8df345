"""The simulator: repeatable, the KEDA/HPA arithmetic on hand-checked cases, and tasklane's
policy against KEDA's defaults on the example traces (relations, not absolute figures)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tasklane_autoscaler.sim.engine import ClusterView, RemovalOrder, Simulation
from tasklane_autoscaler.sim.keda import (
    KedaController,
    metric_recommendation,
    rate_limited,
    stabilized,
)
from tasklane_autoscaler.sim.trace import Trace, generate_tasks
from tasklane_autoscaler.simulate import simulate

TRACES = Path(__file__).resolve().parents[2] / "services" / "autoscaler" / "traces"
EXAMPLES = ("diurnal", "flash-crowd", "nightly-batch")


def tiny_trace(**overrides: object) -> Trace:
    raw: dict[str, object] = {
        "name": "tiny",
        "duration_s": 900,
        "seed": 1,
        "worker": {"concurrency": 4, "startup_s": 10},
        "replicas": {"min": 1, "max": 20},
        "task_seconds": {"distribution": "lognormal", "mean": 20.0, "sigma": 0.1},
        "arrivals": [],
        "bursts": [{"at_s": 5, "count": 80}],
    }
    raw.update(overrides)
    return Trace.from_dict(raw)


def test_the_same_seed_gives_the_same_result() -> None:
    trace = Trace.load(TRACES / "flash-crowd.json")
    for policy in ("tasklane", "keda", "floor"):
        assert simulate(trace, policy) == simulate(trace, policy)


def test_another_seed_gives_another_workload() -> None:
    raw = json.loads((TRACES / "diurnal.json").read_text())
    first = generate_tasks(Trace.from_dict(raw))
    raw["seed"] += 1
    second = generate_tasks(Trace.from_dict(raw))
    assert first != second


def test_generated_tasks_follow_the_trace() -> None:
    trace = Trace.load(TRACES / "nightly-batch.json")
    tasks = generate_tasks(trace)
    burst = [t for t in tasks if t.arrival_s == 600]
    assert len(burst) == 6000
    trickle = len(tasks) - len(burst)
    assert abs(trickle - 0.02 * 5400) < 4 * math.sqrt(0.02 * 5400)
    mean = sum(t.duration_s for t in tasks) / len(tasks)
    assert mean == pytest.approx(4.0, rel=0.05)  # `mean` is the distribution's own mean
    assert [t.arrival_s for t in tasks] == sorted(t.arrival_s for t in tasks)


def test_hpa_metric_arithmetic() -> None:
    # AverageValue of listLength 4 on 10 replicas: 42 is within the 10 % tolerance, 50 is not.
    assert metric_recommendation(42, 4, current=10) == 10
    assert metric_recommendation(50, 4, current=10) == 13
    assert metric_recommendation(0, 4, current=10) == 0


def test_hpa_default_scale_up_and_down_limits() -> None:
    # Up: max(4 pods, 100 %) per 15 s from the replicas at the start of the period.
    assert rate_limited(100, 1, [], now=0, min_replicas=1, max_replicas=50) == 5
    assert rate_limited(100, 10, [], now=0, min_replicas=1, max_replicas=50) == 20
    assert rate_limited(100, 10, [(-5, 5)], now=0, min_replicas=1, max_replicas=50) == 10
    assert rate_limited(100, 40, [], now=0, min_replicas=1, max_replicas=50) == 50
    # Down: 100 % per 15 s, so straight to the stabilised recommendation, but not below min.
    assert rate_limited(0, 10, [], now=0, min_replicas=1, max_replicas=50) == 1


def test_hpa_scale_down_keeps_the_highest_recommendation_of_300_s() -> None:
    history = [(0.0, 10), (100.0, 3)]
    assert stabilized(1, current=10, history=history, now=299) == 10
    assert stabilized(1, current=10, history=history, now=301) == 3
    assert stabilized(1, current=10, history=history, now=401) == 1
    assert stabilized(12, current=10, history=history, now=150) == 12  # up is not held


def test_keda_holds_replicas_300_s_after_the_queue_empties() -> None:
    trace = tiny_trace()
    controller = KedaController(trace=trace)
    outcome = Simulation(trace, controller).run()
    peak_at, peak = max(outcome.replica_timeline, key=lambda point: (point[1], -point[0]))
    later = [(t, n) for t, n in outcome.replica_timeline if t > peak_at]
    assert peak > 1
    first_drop = min(t for t, n in later if n < peak)
    # The queue is empty within a minute of the burst; the HPA still waits out its window.
    assert first_drop >= 300


def test_keda_sees_only_waiting_tasks_and_scales_from_zero_by_polling() -> None:
    trace = tiny_trace(replicas={"min": 0, "max": 20}, bursts=[{"at_s": 5, "count": 1}])
    outcome = Simulation(trace, KedaController(trace=trace)).run()
    # Activated at the 30 s poll, then to zero once the cooldown ran out after the last poll
    # that saw the task waiting (it runs 20 s, but LLEN no longer counts it).
    assert outcome.replica_timeline[1] == (30.0, 1)
    assert outcome.replica_timeline[2] == (330.0, 0)
    assert outcome.waits == [pytest.approx(25 + 10)]  # poll at 30 s, ready 10 s later


@pytest.mark.parametrize("name", EXAMPLES)
def test_floor_waits_least_and_pays_most(name: str) -> None:
    trace = Trace.load(TRACES / f"{name}.json")
    rows = {policy: simulate(trace, policy) for policy in ("tasklane", "keda", "floor")}
    for policy in ("tasklane", "keda"):
        assert rows["floor"]["wait_p95_s"] <= rows[policy]["wait_p95_s"]
        assert rows["floor"]["replica_seconds"] >= rows[policy]["replica_seconds"]
        assert rows[policy]["max_replicas"] <= trace.max_replicas


# Every example trace but `scale-from-zero`, where no policy can (the autoscaler README).
GOAL_MET = (*EXAMPLES, "heavy-tail", "long-tasks", "periodic-batches", "short-spikes", "step-up")


@pytest.mark.parametrize("name", GOAL_MET)
def test_tasklane_meets_the_goal_on_the_examples(name: str) -> None:
    trace = Trace.load(TRACES / f"{name}.json")
    tasklane, keda, floor = (simulate(trace, p) for p in ("tasklane", "keda", "floor"))
    assert tasklane["wait_p95_s"] <= max(1.0, (keda["wait_p95_s"] + floor["wait_p95_s"]) / 2)
    assert tasklane["wait_p95_s"] < keda["wait_p95_s"]
    assert tasklane["replica_seconds"] <= keda["replica_seconds"]


def test_cli_prints_one_json_line() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasklane_autoscaler.simulate",
            "--trace",
            str(TRACES / "flash-crowd.json"),
            "--policy",
            "keda",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    for key in (
        "trace",
        "policy",
        "tasks",
        "completed",
        "wait_p50_s",
        "wait_p95_s",
        "wait_max_s",
        "replica_seconds",
        "max_replicas",
        "scale_events",
    ):
        assert key in row
    assert (row["trace"], row["policy"]) == ("flash-crowd", "keda")
    assert row["completed"] <= row["tasks"]


def test_bench_prints_every_policy_and_the_goal(capsys: pytest.CaptureFixture[str]) -> None:
    from tasklane_autoscaler.bench import main

    assert main([str(TRACES / "flash-crowd.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["trace", "policy", "tasks"]
    assert [line.split()[1] for line in lines[1:4]] == ["tasklane", "keda", "floor"]
    assert "goal met" in lines[4]


@dataclass
class Watcher:
    """Looks every `every_s` seconds and never scales."""

    every_s: float
    views: list[ClusterView] = field(default_factory=list)
    name: str = "watcher"
    removal_order: RemovalOrder = RemovalOrder.REPLICASET

    def initial_replicas(self, trace: Trace) -> int:
        return 2

    def first_tick(self) -> float | None:
        return 0.0

    def tick(self, view: ClusterView) -> tuple[int | None, float]:
        self.views.append(view)
        return None, view.time + self.every_s


def test_a_view_counts_the_tasks_it_saw_running_that_have_finished_since() -> None:
    # 80 tasks of about 20 s on 8 slots. Looked at every second, each is seen running and then
    # seen gone; looked at every 100 s, only those running at a look (8 at 100 s, 5 at 200 s)
    # are seen to finish.
    trace = tiny_trace(duration_s=600)
    often, seldom = Watcher(every_s=1.0), Watcher(every_s=100.0)
    assert Simulation(trace, often).run().completed == 80
    assert sum(v.finished_of_seen for v in often.views) == 80
    Simulation(trace, seldom).run()
    seen = [(v.running, v.finished_of_seen) for v in seldom.views if v.time in (100, 200, 300)]
    assert seen == [(8, 0), (5, 8), (0, 5)]
