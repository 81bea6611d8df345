"""Variants of a trace: repeatable, the trace's shape of load with other numbers, and counted by
`bench --vary`."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tasklane_autoscaler.bench import main as bench_main
from tasklane_autoscaler.sim.trace import Trace, generate_tasks
from tasklane_autoscaler.sim.variants import variants, vary

TRACES = Path(__file__).parents[2] / "services" / "autoscaler" / "traces"


@pytest.fixture(scope="module")
def flash_crowd() -> Trace:
    return Trace.load(TRACES / "flash-crowd.json")


@pytest.fixture(scope="module")
def short_spikes() -> Trace:
    return Trace.load(TRACES / "short-spikes.json")


def test_the_same_index_gives_the_same_variant(flash_crowd: Trace) -> None:
    assert vary(flash_crowd, 3) == vary(flash_crowd, 3)
    assert vary(flash_crowd, 3) != vary(flash_crowd, 4)
    assert [v.name for v in variants(flash_crowd, 3)] == [f"flash-crowd~{i}" for i in range(3)]


def test_a_variant_keeps_the_rate_curve_and_scales_it_by_one_factor(flash_crowd: Trace) -> None:
    for variant in variants(flash_crowd, 12):
        bounds = [(s.from_s, s.to_s) for s in variant.arrivals]
        assert bounds == [(s.from_s, s.to_s) for s in flash_crowd.arrivals]
        factors = {
            round(v.rate_per_s / s.rate_per_s, 9)
            for v, s in zip(variant.arrivals, flash_crowd.arrivals, strict=True)
        }
        assert len(factors) == 1
        assert 0.3 <= factors.pop() <= 3
        assert variant.duration_s == flash_crowd.duration_s


def test_a_schedule_of_bursts_stays_a_schedule(short_spikes: Trace) -> None:
    def gaps(trace: Trace) -> list[float]:
        times = [b.at_s for b in trace.bursts]
        return [b - a for a, b in itertools.pairwise(times)]

    original = gaps(short_spikes)
    assert len(set(original)) == 1  # a spike every two minutes
    for variant in variants(short_spikes, 12):
        assert len(variant.bursts) == len(short_spikes.bursts)
        assert max(gaps(variant)) - min(gaps(variant)) <= 1  # rounded to the second
        assert len({b.count for b in variant.bursts}) == 1
        assert all(0 <= b.at_s < variant.duration_s for b in variant.bursts)


def test_a_variant_stays_in_its_ranges(flash_crowd: Trace, short_spikes: Trace) -> None:
    for trace in (flash_crowd, short_spikes):
        for variant in variants(trace, 12):
            assert variant.concurrency in (1, 2, 4, 8)
            assert 10 <= variant.startup_s <= 60
            ratio = variant.task_mean_s / trace.task_mean_s
            assert 0.29 <= ratio <= 4.01
            assert 0.2 <= variant.task_sigma <= 1.5
            assert 0 <= variant.min_replicas <= variant.max_replicas
            assert variant.max_replicas >= 2
            assert generate_tasks(variant)
    # The worker and the load are drawn again, not copied.
    drawn = variants(flash_crowd, 12)
    assert len({(v.concurrency, v.startup_s) for v in drawn}) > 6


def test_bench_counts_the_variants_per_trace(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(TRACES / "flash-crowd.json"), str(TRACES / "short-spikes.json")]
    assert bench_main([*paths, "--vary", "2"]) == 0
    out = capsys.readouterr().out
    variant_lines = [line for line in out.splitlines() if "~" in line.split(" ", 1)[0]]
    assert [line.split()[0] for line in variant_lines] == [
        "flash-crowd~0",
        "flash-crowd~1",
        "short-spikes~0",
        "short-spikes~1",
    ]
    met = sum(line.split()[1] == "met" for line in variant_lines)
    summary = out.splitlines()[-1]
    assert summary.startswith(f"goal met on {met} of 4 variants (")
    assert "flash-crowd " in summary and "short-spikes " in summary


def test_vary_needs_traces(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_main(["--random", "1", "--vary", "2"])
    assert exit_info.value.code == 2
    assert "--vary needs trace files" in capsys.readouterr().err
