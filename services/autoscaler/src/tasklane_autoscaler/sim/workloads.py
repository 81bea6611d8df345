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
from dataclasses import dataclass

from tasklane_autoscaler.sim.trace import Burst, RateSegment, Trace

SEGMENT_S = 60.0  # a smooth rate curve is drawn as steps this long


@dataclass(frozen=True)
class Common:
    """What every shape draws first, in this order."""

    rng: random.Random
    concurrency: int
    duration_s: float
    sigma: float  # of the task length
    task_mean_s: float
    base: float  # busy slots of the steady part of the load
    min_replicas: int

    def rate(self, busy_slots: float, task_mean_s: float | None = None) -> float:
        return busy_slots / (task_mean_s or self.task_mean_s)

    def max_replicas(self, peak_busy_slots: float) -> int:
        """Room for the peak with some headroom, as a user would set it."""
        return max(2, math.ceil(1.5 * peak_busy_slots / self.concurrency) + 1)


@dataclass(frozen=True)
class Drawn:
    """What a shape decides: task length, replica bounds, arrivals."""

    task: tuple[float, float]  # mean, sigma
    replicas: tuple[int, int]  # min, max
    arrivals: tuple[RateSegment, ...]
    bursts: tuple[Burst, ...] = ()


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    """Drawn so that every factor of ten between `low` and `high` is as likely."""
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _task_mean(rng: random.Random, low: float = 0.5, high: float = 30.0) -> float:
    """Log-uniform, so sub-second and half-minute tasks are drawn as often."""
    return round(log_uniform(rng, low, high), 2)


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


def _burst(c: Common) -> Drawn:
    count = c.rng.randrange(5, 60) * c.concurrency * 4
    times = sorted(c.rng.uniform(300, c.duration_s - 600) for _ in range(c.rng.randrange(1, 5)))
    peak = c.base + count * c.task_mean_s / 300  # a burst drained within five minutes
    return Drawn(
        task=(c.task_mean_s, c.sigma),
        replicas=(c.min_replicas, c.max_replicas(peak)),
        arrivals=_steady(c.duration_s, c.rate(c.base)),
        bursts=tuple(Burst(round(t), count) for t in times),
    )


def _spike(c: Common) -> Drawn:
    factor = c.rng.uniform(5, 20)
    length = c.rng.uniform(20, 120)
    every = c.rng.uniform(120, 900)
    rate = c.rate(c.base)
    spikes: list[RateSegment] = []
    t = c.rng.uniform(60, every)
    while t + length < c.duration_s:
        spikes.append(RateSegment(t, t + length, rate * (factor - 1)))
        t += every * c.rng.uniform(0.5, 1.5)  # irregular: not on a schedule
    return Drawn(
        task=(c.task_mean_s, c.sigma),
        replicas=(c.min_replicas, c.max_replicas(c.base * factor)),
        arrivals=(*_steady(c.duration_s, rate), *spikes),
    )


def _between(c: Common, low: float, high: float, level: Callable[[float], float]) -> Drawn:
    """A load that moves between `low` and `high` busy slots as `level(t)` goes from 0 to 1."""
    return Drawn(
        task=(c.task_mean_s, c.sigma),
        replicas=(c.min_replicas, c.max_replicas(high)),
        arrivals=_curve(c.duration_s, lambda t: c.rate(low + (high - low) * level(t))),
    )


def _wave(c: Common) -> Drawn:
    low, high = c.base / c.rng.uniform(3, 15), c.base * c.rng.uniform(1, 3)
    period_s = c.rng.uniform(900, 3600)
    phase = c.rng.uniform(0, 2 * math.pi)
    return _between(c, low, high, lambda t: (1 + math.sin(2 * math.pi * t / period_s + phase)) / 2)


def _ramp(c: Common) -> Drawn:
    low, high = c.base / c.rng.uniform(2, 10), c.base * c.rng.uniform(1.5, 4)
    top = c.rng.uniform(0.3, 0.7) * c.duration_s

    def up_then_down(t: float) -> float:
        return t / top if t < top else max(0.0, 1 - (t - top) / (c.duration_s - top))

    return _between(c, low, high, up_then_down)


def _step(c: Common) -> Drawn:
    factor = c.rng.uniform(2, 8)
    at = c.rng.uniform(0.2, 0.6) * c.duration_s
    back = c.rng.choice((c.duration_s, c.rng.uniform(at + 900, c.duration_s)))
    rate = c.rate(c.base / factor)
    return Drawn(
        task=(c.task_mean_s, c.sigma),
        replicas=(c.min_replicas, c.max_replicas(c.base)),
        arrivals=_steps(c.duration_s, rate, (at, back, rate * factor)),
    )


def _periodic_batch(c: Common) -> Drawn:
    every = c.rng.choice((300, 600, 900, 1800))
    count = c.rng.randrange(5, 60) * c.concurrency * 4
    trickle = c.rate(c.base / 8)
    start = c.rng.uniform(30, every)
    return Drawn(
        task=(c.task_mean_s, c.sigma),
        replicas=(c.min_replicas, c.max_replicas(count * c.task_mean_s / every)),
        arrivals=_steady(c.duration_s, trickle),
        bursts=tuple(Burst(round(t), count) for t in _every(start, every, c.duration_s)),
    )


def _long_tasks(c: Common) -> Drawn:
    mean = _task_mean(c.rng, 45, 300)
    factor = c.rng.uniform(1.5, 4)
    at, back = sorted(c.rng.uniform(0.15, 0.85) * c.duration_s for _ in range(2))
    rate = c.rate(c.base / factor, mean)
    return Drawn(
        task=(mean, round(c.rng.uniform(0.5, 1.2), 2)),
        replicas=(max(1, c.min_replicas), c.max_replicas(c.base)),
        arrivals=_steps(c.duration_s, rate, (at, back, rate * factor)),
    )


def _heavy_tail(c: Common) -> Drawn:
    mean = _task_mean(c.rng, 1, 20)
    return Drawn(
        task=(mean, round(c.rng.uniform(1.5, 2.2), 2)),
        replicas=(max(1, c.min_replicas), c.max_replicas(c.base * 2)),
        arrivals=_steady(c.duration_s, c.rate(c.base, mean)),
    )


def _trickle_from_zero(c: Common) -> Drawn:
    """A task now and then, to a pool at zero."""
    mean = _task_mean(c.rng, 0.5, 10)
    return Drawn(
        task=(mean, c.sigma),
        replicas=(0, c.rng.randrange(2, 11)),
        arrivals=_steady(c.duration_s, c.rng.uniform(0.003, 0.05)),
    )


_SHAPES: dict[str, Callable[[Common], Drawn]] = {
    "burst": _burst,
    "spike": _spike,
    "wave": _wave,
    "ramp": _ramp,
    "step": _step,
    "periodic-batch": _periodic_batch,
    "long-tasks": _long_tasks,
    "heavy-tail": _heavy_tail,
    "trickle-from-zero": _trickle_from_zero,
}


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


SHAPES = tuple(_SHAPES)


def draw(shape: str, seed: int) -> Trace:
    """One workload of `shape`; the seed decides every number in it."""
    if shape not in _SHAPES:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    rng = random.Random(f"{shape}:{seed}")
    concurrency, startup_s = rng.choice((1, 2, 4, 4, 8)), round(rng.uniform(10, 60))
    common = Common(
        rng=rng,
        concurrency=concurrency,
        duration_s=float(rng.choice((3600, 5400, 7200))),
        sigma=round(rng.uniform(0.2, 1.0), 2),
        task_mean_s=_task_mean(rng),
        base=rng.uniform(1, 16),
        min_replicas=rng.choice((0, 1, 1)),
    )
    drawn = _SHAPES[shape](common)
    return Trace(
        name=f"{shape}-{seed}",
        description=f"random {shape} workload, seed {seed}",
        duration_s=common.duration_s,
        seed=rng.randrange(2**31),  # of the tasks' arrivals and durations
        concurrency=concurrency,
        startup_s=startup_s,
        min_replicas=drawn.replicas[0],
        max_replicas=drawn.replicas[1],
        task_mean_s=drawn.task[0],
        task_sigma=drawn.task[1],
        arrivals=drawn.arrivals,
        bursts=drawn.bursts,
    )


def draw_many(count: int, seed: int = 0) -> list[Trace]:
    """`count` workloads, the shapes taken in turn."""
    return [draw(SHAPES[i % len(SHAPES)], seed * 100_000 + i) for i in range(count)]
