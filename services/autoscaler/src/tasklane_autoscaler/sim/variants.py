"""Variants of one trace: its shape of load (rate curve, bursts, length) with other numbers.

A policy checked on a trace alone may fit that trace's numbers; its variants keep the shape and
draw again the worker (1-8 slots, 10-60 s startup), the task length (0.3-4x), the load (0.3-3x
the rate, with `maxReplicas` scaled to match; bursts a further 0.3-2x), when bursts come (all
moved by one factor, so a schedule stays a schedule), the pool's minimum, and the arrivals'
seed. `bench --vary N` checks the goal on N variants of every trace given.
"""

from __future__ import annotations

import random
from dataclasses import replace

from tasklane_autoscaler.sim.trace import Burst, Trace
from tasklane_autoscaler.sim.workloads import log_uniform


def vary(trace: Trace, index: int) -> Trace:
    """Variant `index` of `trace`; the same trace and index always give the same variant."""
    rng = random.Random(f"{trace.name}:{index}")
    concurrency = rng.choice((1, 2, 4, 4, 8, 8))
    startup_s = round(rng.uniform(10, 60))
    task_mean_s = max(0.01, round(trace.task_mean_s * log_uniform(rng, 0.3, 4), 2))
    task_sigma = round(min(1.5, max(0.2, trace.task_sigma * rng.uniform(0.6, 2.0))), 2)
    load = log_uniform(rng, 0.3, 3)
    # Replicas the load needs, against the trace's: more work per task and per second, fewer
    # slots per replica, more replicas.
    replicas_needed = load * task_mean_s / trace.task_mean_s * trace.concurrency / concurrency
    max_replicas = max(2, round(trace.max_replicas * replicas_needed * rng.uniform(0.8, 1.3)))
    arrivals = tuple(replace(a, rate_per_s=a.rate_per_s * load) for a in trace.arrivals)
    # One factor for every burst's time and one for its size, so a schedule stays a schedule.
    last_burst_s = max((b.at_s for b in trace.bursts), default=0.0)
    at_factor = rng.uniform(0.5, 1.5)
    if last_burst_s > 0:
        at_factor = min(at_factor, (trace.duration_s - 1) / last_burst_s)
    size = load * rng.uniform(0.3, 2)
    bursts = tuple(
        Burst(at_s=round(b.at_s * at_factor), count=max(1, round(b.count * size)))
        for b in trace.bursts
    )
    min_replicas = trace.min_replicas if rng.random() < 0.6 else rng.choice((0, 1, 2))
    return replace(
        trace,
        name=f"{trace.name}~{index}",
        description=f"variant {index} of {trace.name}",
        seed=rng.randrange(2**31),
        concurrency=concurrency,
        startup_s=startup_s,
        min_replicas=min_replicas,
        max_replicas=max(max_replicas, min_replicas),
        task_mean_s=task_mean_s,
        task_sigma=task_sigma,
        arrivals=arrivals,
        bursts=bursts,
    )


def variants(trace: Trace, count: int) -> list[Trace]:
    return [vary(trace, index) for index in range(count)]
