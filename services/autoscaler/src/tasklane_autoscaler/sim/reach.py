"""What no policy can do on a workload, whatever it decides: a lower bound on the
replica-seconds of meeting a p95 wait, from the trace alone, and the case where paying no more
than another policy leaves no choice at all.

The bound is about pools that scale to zero. When a replica's startup is longer than the wait
allowed, a task that arrives while no replica is asked for waits too long. A p95 within the
limit then needs 95 % of the tasks to arrive while some replica is paid for. Arrivals are a
Poisson stream within each rate segment, and a policy only knows the past. So the expected
share of tasks that arrive in any stretch of time it chooses is that stretch's share of the
expected arrivals. The cheapest choice keeps a replica through the busiest stretches until
they hold 95 % of the expected arrivals; their total length is the bound.

It is a bound in expectation: on one draw of arrivals a policy can be lucky by a few tasks.
"""

from __future__ import annotations

import itertools

from tasklane_autoscaler.sim.trace import Trace

P95_SHARE = 0.95


def arrival_rates(trace: Trace) -> list[tuple[float, float]]:
    """(rate, length) of each stretch between the trace's rate changes. Segments may overlap
    (a spike on a steady load): their rates add, as their arrivals do."""
    edges = sorted(
        {0.0, trace.duration_s}
        | {min(max(t, 0.0), trace.duration_s) for s in trace.arrivals for t in (s.from_s, s.to_s)}
    )
    stretches = []
    for start, end in itertools.pairwise(edges):
        rate = sum(s.rate_per_s for s in trace.arrivals if s.from_s <= start and end <= s.to_s)
        if rate > 0 and end > start:
            stretches.append((rate, end - start))
    return stretches


def warm_seconds_needed(trace: Trace, share: float = P95_SHARE) -> float:
    """The shortest time some replica must be paid for so that `share` of the expected
    arrivals find one. Bursts arrive at an instant and need no length of time."""
    expected_from_bursts = sum(b.count for b in trace.bursts if b.at_s < trace.duration_s)
    stretches = sorted(arrival_rates(trace), reverse=True)  # the busiest first
    expected = expected_from_bursts + sum(rate * length for rate, length in stretches)
    still_needed = share * expected - expected_from_bursts
    seconds = 0.0
    for rate, length in stretches:
        if still_needed <= 0:
            break
        taken = min(length, still_needed / rate)
        seconds += taken
        still_needed -= rate * taken
    return seconds


def replica_seconds_floor(trace: Trace, wait_limit_s: float) -> float:
    """The fewest replica-seconds any policy pays on `trace` with a p95 wait of at most
    `wait_limit_s` (in expectation): `minReplicas` all the time, and for a pool that scales
    to zero with a startup longer than the limit, one replica as long as `warm_seconds_needed`."""
    if trace.min_replicas > 0:
        return trace.min_replicas * trace.duration_s
    if trace.startup_s > wait_limit_s:
        return warm_seconds_needed(trace)
    return 0.0


def held_at_minimum(trace: Trace, replica_seconds: float) -> bool:
    """Did a policy that paid `replica_seconds` keep `minReplicas` and nothing more, all along?
    No policy can go below that pool, so one that pays no more keeps exactly that pool too, and
    its tasks wait exactly as long."""
    return replica_seconds <= trace.min_replicas * trace.duration_s * (1 + 1e-9)
