"""Random workloads: every shape drawn, repeatable, within the stated ranges, and counted by
`bench --random`."""

from __future__ import annotations

import re

import pytest

from tasklane_autoscaler.bench import main as bench_main
from tasklane_autoscaler.sim.trace import generate_tasks
from tasklane_autoscaler.sim.workloads import SHAPES, draw, draw_many


def test_the_same_seed_draws_the_same_workloads() -> None:
    assert draw_many(18, seed=3) == draw_many(18, seed=3)
    assert draw_many(18, seed=3) != draw_many(18, seed=4)


def test_shapes_are_taken_in_turn() -> None:
    traces = draw_many(2 * len(SHAPES))
    shapes = [trace.name.rsplit("-", 1)[0] for trace in traces]
    assert shapes == [*SHAPES, *SHAPES]
    assert len({trace.name for trace in traces}) == len(traces)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_drawn_workload_stays_in_its_ranges(shape: str) -> None:
    for seed in range(8):
        trace = draw(shape, seed)
        assert 1 <= trace.concurrency <= 8
        assert 10 <= trace.startup_s <= 60
        assert 0.5 <= trace.task_mean_s <= 300
        assert 0 <= trace.min_replicas < trace.max_replicas
        assert all(0 <= s.from_s < s.to_s <= trace.duration_s for s in trace.arrivals)
        assert all(s.rate_per_s >= 0 for s in trace.arrivals)
        assert generate_tasks(trace), f"{trace.name} has no task"


def test_shapes_differ_where_their_names_say() -> None:
    long_tasks = [draw("long-tasks", seed) for seed in range(8)]
    assert min(t.task_mean_s for t in long_tasks) >= 45
    heavy = [draw("heavy-tail", seed) for seed in range(8)]
    assert min(t.task_sigma for t in heavy) >= 1.5
    trickles = [draw("trickle-from-zero", seed) for seed in range(8)]
    assert all(t.min_replicas == 0 for t in trickles)
    assert all(draw("burst", seed).bursts for seed in range(8))
    assert all(draw("periodic-batch", seed).bursts for seed in range(8))
    # a wave is a curve: many segments, with different rates
    wave = draw("wave", 0)
    assert len({s.rate_per_s for s in wave.arrivals}) > 10


def test_an_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown shape 'sawtooth'"):
        draw("sawtooth", 0)


def test_bench_counts_the_random_workloads_per_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["--random", "9", "--seed", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    for shape, line in zip(SHAPES, lines[:9], strict=True):
        assert line.startswith(f"{shape}-")
        assert re.search(r"p95 +[\d.]+ s \(limit +[\d.]+\) +replica-seconds +[\d.]+x", line)
    summary = lines[-1]
    met = sum(line.split()[1] == "met" for line in lines[:9])
    beyond = sum(" out of reach " in line for line in lines[:9])
    assert beyond > 0  # seed 2's trickle to a pool at zero
    assert summary.startswith(
        f"goal met on {met} of 9 random workloads ({beyond} of the misses out of reach"
    )
    for shape in SHAPES:
        assert re.search(rf"{shape} [01]/1", summary)


def test_bench_without_input_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_main([])
    assert exit_info.value.code == 2
    assert "give trace files, --random N, or both" in capsys.readouterr().err
