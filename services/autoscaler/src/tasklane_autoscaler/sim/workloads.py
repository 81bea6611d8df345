"""Workloads drawn at random in the shapes a task queue sees, to check a policy on more than
the example traces: bursts, short spikes, slow waves, ramps, lasting steps, periodic batches,
long tasks, heavy tails and trickles to a pool that idles at zero.

Each draw also varies the worker (1-8 slots, 10-60 s startup) and the task length (0.5 s to
5 min), so a policy tuned to one trace's numbers shows it here. The same seed always draws the
same workloads.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

from tasklane_autoscaler.sim.trace import Burst, RateSegment, Trace

SHAPES = (
    "burst",
    "spike",
    "wave",
    "ramp",
    "step",
    "periodic-batch",
    "long-tasks",
    "heavy-tail",
    "trickle-from-zero",
)
SEGMENT_S = 60.0  # a smooth rate curve is drawn as steps this long


def _worker(rng: random.Random) -> tuple[int, float]:
    return rng.choice((1, 2, 4, 4, 8)), round(rng.uniform(10, 60))


def _task_mean(rng: random.Random, low: float = 0.5, high: float = 30.0) -> float:
    """Log-uniform, so sub-second and half-minute tasks are drawn as often."""
    return round(math.exp(rng.uniform(math.log(low), math.log(high))), 2)


def _rate_for(busy_slots: float, task_mean_s: float) -> float:
    return busy_slots / task_mean_s


def _max_replicas(peak_busy_slots: float, concurrency: int) -> int:
    """Room for the peak with some headroom, as a user would set it."""
    return max(2, math.ceil(1.5 * peak_busy_slots / concurrency) + 1)


def _curve(duration_s: float, rate_at: Callable[[float], float]) -> tuple[RateSegment, ...]:
    segments = []
    t = 0.0
    while t < duration_s:
        end = min(duration_s, t + SEGMENT_S)
        segments.append(RateSegment(t, end, max(0.0, rate_at((t + end) / 2))))
        t = end
    return tuple(segments)


def _steady(duration_s: float, rate: float) -> tuple[RateSegment, ...]:
    return (RateSegment(0.0, duration_s, rate),)


def _trace(
    shape: str,
    seed: int,
    rng: random.Random,
    *,
    duration_s: float,
    worker: tuple[int, float],
    task: tuple[float, float],
    replicas: tuple[int, int],
    arrivals: tuple[RateSegment, ...],
    bursts: tuple[Burst, ...] = (),
) -> Trace:
    concurrency, startup_s = worker
    return Trace(
        name=f"{shape}-{seed}",
        description=f"random {shape} workload, seed {seed}",
        duration_s=duration_s,
        seed=rng.randrange(2**31),
        concurrency=concurrency,
        startup_s=startup_s,
        min_replicas=replicas[0],
        max_replicas=replicas[1],
        task_mean_s=task[0],
        task_sigma=task[1],
        arrivals=arrivals,
        bursts=bursts,
    )


def draw(shape: str, seed: int) -> Trace:
    """One workload of `shape`; the seed decides every number in it."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    rng = random.Random(f"{shape}:{seed}")
    worker = _worker(rng)
    concurrency = worker[0]
    duration = float(rng.choice((3600, 5400, 7200)))
    sigma = round(rng.uniform(0.2, 1.0), 2)
    mean = _task_mean(rng)
    base = rng.uniform(1, 16)  # busy slots of the steady part of the load
    min_replicas = rng.choice((0, 1, 1))

    def make(
        task: tuple[float, float],
        replicas: tuple[int, int],
        arrivals: tuple[RateSegment, ...],
        bursts: tuple[Burst, ...] = (),
    ) -> Trace:
        return _trace(
            shape,
            seed,
            rng,
            duration_s=duration,
            worker=worker,
            task=task,
            replicas=replicas,
            arrivals=arrivals,
            bursts=bursts,
        )

    if shape == "burst":
        count = rng.randrange(5, 60) * concurrency * 4
        times = sorted(rng.uniform(300, duration - 600) for _ in range(rng.randrange(1, 5)))
        peak = base + count * mean / 300  # a burst drained within five minutes
        return make(
            task=(mean, sigma),
            replicas=(min_replicas, _max_replicas(peak, concurrency)),
            arrivals=_steady(duration, _rate_for(base, mean)),
            bursts=tuple(Burst(round(t), count) for t in times),
        )
    if shape == "spike":
        factor = rng.uniform(5, 20)
        length = rng.uniform(20, 120)
        every = rng.uniform(120, 900)
        rate = _rate_for(base, mean)
        spikes: list[RateSegment] = []
        t = rng.uniform(60, every)
        while t + length < duration:
            spikes.append(RateSegment(t, t + length, rate * (factor - 1)))
            t += every * rng.uniform(0.5, 1.5)  # irregular: not on a schedule
        return make(
            task=(mean, sigma),
            replicas=(min_replicas, _max_replicas(base * factor, concurrency)),
            arrivals=(*_steady(duration, rate), *spikes),
        )
    if shape == "wave":
        low, high = base / rng.uniform(3, 15), base * rng.uniform(1, 3)
        period_s = rng.uniform(900, 3600)
        phase = rng.uniform(0, 2 * math.pi)

        def wave(t: float) -> float:
            level = (1 + math.sin(2 * math.pi * t / period_s + phase)) / 2
            return _rate_for(low + (high - low) * level, mean)

        return make(
            task=(mean, sigma),
            replicas=(min_replicas, _max_replicas(high, concurrency)),
            arrivals=_curve(duration, wave),
        )
    if shape == "ramp":
        low, high = base / rng.uniform(2, 10), base * rng.uniform(1.5, 4)
        top = rng.uniform(0.3, 0.7) * duration

        def ramp(t: float) -> float:
            share = t / top if t < top else max(0.0, 1 - (t - top) / (duration - top))
            return _rate_for(low + (high - low) * share, mean)

        return make(
            task=(mean, sigma),
            replicas=(min_replicas, _max_replicas(high, concurrency)),
            arrivals=_curve(duration, ramp),
        )
    if shape == "step":
        factor = rng.uniform(2, 8)
        at = rng.uniform(0.2, 0.6) * duration
        back = rng.choice((duration, rng.uniform(at + 900, duration)))
        rate = _rate_for(base / factor, mean)
        return make(
            task=(mean, sigma),
            replicas=(min_replicas, _max_replicas(base, concurrency)),
            arrivals=_steps(duration, rate, (at, back, rate * factor)),
        )
    if shape == "periodic-batch":
        every = rng.choice((300, 600, 900, 1800))
        count = rng.randrange(5, 60) * concurrency * 4
        trickle = _rate_for(base / 8, mean)
        start = rng.uniform(30, every)
        return make(
            task=(mean, sigma),
            replicas=(min_replicas, _max_replicas(count * mean / every, concurrency)),
            arrivals=_steady(duration, trickle),
            bursts=tuple(Burst(round(t), count) for t in _every(start, every, duration)),
        )
    if shape == "long-tasks":
        mean = _task_mean(rng, 45, 300)
        factor = rng.uniform(1.5, 4)
        at, back = sorted(rng.uniform(0.15, 0.85) * duration for _ in range(2))
        rate = _rate_for(base / factor, mean)
        return make(
            task=(mean, round(rng.uniform(0.5, 1.2), 2)),
            replicas=(max(1, min_replicas), _max_replicas(base, concurrency)),
            arrivals=_steps(duration, rate, (at, back, rate * factor)),
        )
    if shape == "heavy-tail":
        mean = _task_mean(rng, 1, 20)
        return make(
            task=(mean, round(rng.uniform(1.5, 2.2), 2)),
            replicas=(max(1, min_replicas), _max_replicas(base * 2, concurrency)),
            arrivals=_steady(duration, _rate_for(base, mean)),
        )
    # trickle-from-zero: a task now and then, to a pool at zero
    mean = _task_mean(rng, 0.5, 10)
    return make(
        task=(mean, sigma),
        replicas=(0, rng.randrange(2, 11)),
        arrivals=_steady(duration, rng.uniform(0.003, 0.05)),
    )


def _steps(
    duration_s: float, rate: float, step: tuple[float, float, float]
) -> tuple[RateSegment, ...]:
    """`rate`, but `step`'s rate from its start to its end (which may be the end of the trace)."""
    start, end, stepped = step
    segments = [RateSegment(0.0, start, rate), RateSegment(start, end, stepped)]
    if end < duration_s:
        segments.append(RateSegment(end, duration_s, rate))
    return tuple(segments)


def _every(start: float, every: float, duration: float) -> Iterator[float]:
    t = start
    while t < duration:
        yield t
        t += every


def draw_many(count: int, seed: int = 0) -> list[Trace]:
    """`count` workloads, the shapes taken in turn."""
    return [draw(SHAPES[i % len(SHAPES)], seed * 100_000 + i) for i in range(count)]
