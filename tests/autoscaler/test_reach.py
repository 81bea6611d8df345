"""The lower bound on what meeting a wait costs (`sim.reach`): its arithmetic on hand-checked
workloads, that simulated policies meeting the wait do pay it, and how the bench reports it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasklane_autoscaler.bench import main as bench_main
from tasklane_autoscaler.policy import ScalingSpec
from tasklane_autoscaler.sim.controllers import TasklaneController
from tasklane_autoscaler.sim.engine import Simulation, percentile
from tasklane_autoscaler.sim.reach import (
    held_at_minimum,
    replica_seconds_floor,
    warm_seconds_needed,
)
from tasklane_autoscaler.sim.trace import Burst, RateSegment, Trace

TRACES = Path(__file__).resolve().parents[2] / "services" / "autoscaler" / "traces"


def workload(
    arrivals: tuple[RateSegment, ...],
    bursts: tuple[Burst, ...] = (),
    min_replicas: int = 0,
    startup_s: float = 30.0,
) -> Trace:
    return Trace(
        name="hand-checked",
        duration_s=1000.0,
        seed=1,
        concurrency=4,
        startup_s=startup_s,
        min_replicas=min_replicas,
        max_replicas=4,
        task_mean_s=2.0,
        task_sigma=0.5,
        arrivals=arrivals,
        bursts=bursts,
    )


def test_a_steady_trickle_needs_a_replica_for_95_percent_of_the_time() -> None:
    trace = workload((RateSegment(0, 1000, 0.02),))
    assert warm_seconds_needed(trace) == pytest.approx(950.0)


def test_the_busiest_stretch_is_kept_first() -> None:
    # 100 expected tasks in the first 100 s, 9 in the 900 s after: 103.55 must find a replica,
    # all of the busy stretch and 355 s of the quiet one.
    trace = workload((RateSegment(0, 100, 1.0), RateSegment(100, 1000, 0.01)))
    assert warm_seconds_needed(trace) == pytest.approx(455.0)


def test_overlapping_segments_add_their_rates() -> None:
    # A spike of 0.9/s for 100 s on a steady 0.1/s: 190 expected tasks, 180.5 must find a
    # replica. The spike's 100 s hold 100 of them, the rest 80.5 in 805 s. Taking the segments
    # apart would count the spike's time twice and ask for 1,005 s.
    trace = workload((RateSegment(0, 1000, 0.1), RateSegment(400, 500, 0.9)))
    assert warm_seconds_needed(trace) == pytest.approx(905.0)


def test_a_burst_needs_no_length_of_time() -> None:
    # 100 tasks at once and 10 spread out: 104.5 must find a replica, 4.5 of the spread ones.
    trace = workload((RateSegment(0, 1000, 0.01),), bursts=(Burst(500, 100),))
    assert warm_seconds_needed(trace) == pytest.approx(450.0)


def test_the_floor_is_min_replicas_or_a_warm_replica_when_a_startup_is_too_long() -> None:
    trickle = (RateSegment(0, 1000, 0.02),)
    assert replica_seconds_floor(workload(trickle, min_replicas=2), 5.0) == 2000.0
    # A cold start is within the limit: scaling to zero between tasks is allowed.
    assert replica_seconds_floor(workload(trickle, startup_s=10), 20.0) == 0.0
    assert replica_seconds_floor(workload(trickle, startup_s=30), 20.0) == pytest.approx(950.0)


def test_policies_that_meet_the_wait_from_zero_pay_at_least_the_floor() -> None:
    trace = Trace.load(TRACES / "scale-from-zero.json")
    limit = trace.startup_s - 1  # a cold start is too long
    floor = replica_seconds_floor(trace, limit)
    met = 0
    for idle_before_zero_s in (0, 60, 240, 480, 960, 3600):
        spec = ScalingSpec(
            concurrency=trace.concurrency,
            max_replicas=trace.max_replicas,
            startup_s=trace.startup_s,
            idle_before_zero_s=idle_before_zero_s,
        )
        outcome = Simulation(trace, TasklaneController(spec=spec)).run()
        if percentile(sorted(outcome.waits), 0.95) <= limit:
            met += 1
            assert outcome.replica_seconds >= floor
    assert met > 0  # the longer idle spells keep a replica and meet the wait


def test_the_bench_marks_a_trace_out_of_reach(capsys: pytest.CaptureFixture[str]) -> None:
    # A trickle of 36 expected tasks to a pool at zero with a 30 s startup: KEDA pays for about
    # half the hour, and a p95 under half its wait needs a replica for 95 % of it.
    assert bench_main([str(TRACES / "scale-from-zero.json")]) == 0
    verdict = capsys.readouterr().out.splitlines()[4]
    assert "goal out of reach" in verdict


def test_only_a_policy_that_never_left_min_replicas_is_held_at_it() -> None:
    trickle = workload((RateSegment(0, 1000, 0.02),), min_replicas=2)
    assert held_at_minimum(trickle, 2000.0)
    assert not held_at_minimum(trickle, 2001.0)  # one more replica for a second
    assert held_at_minimum(workload(trickle.arrivals), 0.0)


def test_a_wait_keda_had_at_min_replicas_is_out_of_reach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two minute-long tasks at once to one single-slot replica. KEDA reads one waiting task,
    # which one replica is sized for, and never scales: the second task waits a minute for
    # 600 replica-seconds. Waiting less than half that needs a second replica, which costs more.
    trace = {
        "name": "two-long-tasks",
        "duration_s": 600,
        "seed": 1,
        "worker": {"concurrency": 1, "startup_s": 20},
        "replicas": {"min": 1, "max": 4},
        "task_seconds": {"distribution": "lognormal", "mean": 60, "sigma": 0.1},
        "bursts": [{"at_s": 10, "count": 2}],
    }
    path = tmp_path / "two-long-tasks.json"
    path.write_text(json.dumps(trace))
    assert bench_main([str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    keda = lines[2].split()
    assert keda[1] == "keda" and float(keda[5]) > 30 and float(keda[7]) == 600
    assert "goal out of reach" in lines[4]
