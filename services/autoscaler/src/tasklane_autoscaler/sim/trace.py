"""Workload traces: the JSON format of `traces/README.md`, and the tasks a trace generates."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RateSegment:
    from_s: float
    to_s: float
    rate_per_s: float


@dataclass(frozen=True)
class Burst:
    at_s: float
    count: int


@dataclass(frozen=True)
class Trace:
    name: str
    duration_s: float
    seed: int
    concurrency: int
    startup_s: float
    min_replicas: int
    max_replicas: int
    task_mean_s: float
    task_sigma: float
    arrivals: tuple[RateSegment, ...]
    bursts: tuple[Burst, ...] = ()
    description: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Trace:
        task = raw["task_seconds"]
        if task.get("distribution", "lognormal") != "lognormal":
            raise ValueError(f"unsupported task_seconds distribution {task['distribution']!r}")
        return cls(
            name=raw["name"],
            description=raw.get("description", ""),
            duration_s=float(raw["duration_s"]),
            seed=int(raw["seed"]),
            concurrency=int(raw["worker"]["concurrency"]),
            startup_s=float(raw["worker"]["startup_s"]),
            min_replicas=int(raw["replicas"]["min"]),
            max_replicas=int(raw["replicas"]["max"]),
            task_mean_s=float(task["mean"]),
            task_sigma=float(task["sigma"]),
            arrivals=tuple(
                RateSegment(float(a["from_s"]), float(a["to_s"]), float(a["rate_per_s"]))
                for a in raw.get("arrivals", [])
            ),
            bursts=tuple(Burst(float(b["at_s"]), int(b["count"])) for b in raw.get("bursts", [])),
        )

    @classmethod
    def load(cls, path: Path | str) -> Trace:
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass(frozen=True)
class Task:
    arrival_s: float
    duration_s: float


def generate_tasks(trace: Trace) -> list[Task]:
    """Every task of the trace, in arrival order; the same seed always gives the same tasks.

    Arrivals and durations are drawn once, before any policy runs, so every policy replays
    exactly the same workload.
    """
    rng = random.Random(trace.seed)
    arrivals: list[float] = []
    for segment in trace.arrivals:
        if segment.rate_per_s <= 0:
            continue
        t = segment.from_s
        while True:
            t += rng.expovariate(segment.rate_per_s)
            if t >= segment.to_s or t >= trace.duration_s:
                break
            arrivals.append(t)
    for burst in trace.bursts:
        if burst.at_s < trace.duration_s:
            arrivals.extend([burst.at_s] * burst.count)
    arrivals.sort()
    # mean is the distribution's own mean, so the underlying normal's mu is shifted by sigma^2/2.
    mu = math.log(trace.task_mean_s) - trace.task_sigma**2 / 2
    return [Task(t, rng.lognormvariate(mu, trace.task_sigma)) for t in arrivals]
