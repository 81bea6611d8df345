"""`make bench-autoscale`: every trace against every policy, as a table, plus whether tasklane
met its goal: p95 wait at most halfway from KEDA's to the floor's (or at most 1 s), for no more
replica-seconds than KEDA. `--vary N` adds N variants of every trace (`sim.variants`: the same
shape of load with other numbers) and `--random N` N workloads drawn at random in every shape
(`sim.workloads`); both count, per trace varied or per shape, on how many the goal was met. A
miss is marked out of reach when no policy could meet the goal there (`sim.reach`).

    python -m tasklane_autoscaler.bench services/autoscaler/traces/*.json
    python -m tasklane_autoscaler.bench services/autoscaler/traces/flash-crowd.json --vary 30
    python -m tasklane_autoscaler.bench --random 54 --seed 0
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tasklane_autoscaler.sim.reach import held_at_minimum, replica_seconds_floor
from tasklane_autoscaler.sim.trace import Trace
from tasklane_autoscaler.sim.variants import variants
from tasklane_autoscaler.sim.workloads import draw_many
from tasklane_autoscaler.simulate import simulate

POLICY_ORDER = ("tasklane", "keda", "floor")
COLUMNS = (
    ("trace", "{:<18}"),
    ("policy", "{:<9}"),
    ("tasks", "{:>6}"),
    ("completed", "{:>9}"),
    ("wait_p50_s", "{:>10.2f}"),
    ("wait_p95_s", "{:>10.2f}"),
    ("wait_max_s", "{:>10.1f}"),
    ("replica_seconds", "{:>15.0f}"),
    ("max_replicas", "{:>12}"),
    ("scale_events", "{:>12}"),
)


def wait_limit(rows: dict[str, dict[str, Any]]) -> float:
    """The p95 wait tasklane may have: halfway from KEDA's to the floor's, or 1 s."""
    return max(float(rows["keda"]["wait_p95_s"] + rows["floor"]["wait_p95_s"]) / 2, 1.0)


def goal_met(rows: dict[str, dict[str, Any]]) -> bool:
    tasklane, keda = rows["tasklane"], rows["keda"]
    fast_enough = tasklane["wait_p95_s"] <= wait_limit(rows)
    return bool(fast_enough and tasklane["replica_seconds"] <= keda["replica_seconds"])


def out_of_reach(trace: Trace, rows: dict[str, dict[str, Any]]) -> bool:
    """No policy meets the goal here: its wait limit costs more than KEDA pays, or KEDA never
    left `minReplicas` and still waited too long (paying no more means the same pool and the
    same waits)."""
    limit = wait_limit(rows)
    keda_cost = float(rows["keda"]["replica_seconds"])
    if replica_seconds_floor(trace, limit) > keda_cost:
        return True
    return held_at_minimum(trace, keda_cost) and float(rows["keda"]["wait_p95_s"]) > limit


def verdict(trace: Trace, rows: dict[str, dict[str, Any]]) -> str:
    if goal_met(rows):
        return "met"
    return "out of reach" if out_of_reach(trace, rows) else "NOT met"


def compare(trace: Trace) -> dict[str, dict[str, Any]]:
    return {policy: simulate(trace, policy) for policy in POLICY_ORDER}


def print_table(traces: Sequence[Trace]) -> bool:
    print(" ".join(_header_cell(name, fmt) for name, fmt in COLUMNS))
    all_met = True
    for trace in traces:
        rows = compare(trace)
        for policy in POLICY_ORDER:
            print(" ".join(fmt.format(rows[policy][name]) for name, fmt in COLUMNS))
        said = verdict(trace, rows)
        all_met = all_met and said == "met"
        print(
            f"{'':18} goal {said}: tasklane p95 <= max(1 s, "
            f"(keda + floor) / 2) and replica_seconds <= keda's"
        )
    return all_met


def print_verdicts(traces: Sequence[Trace], kind: str, family: Callable[[Trace], str]) -> bool:
    """One line per workload (tasklane's p95 against its limit, its cost against KEDA's),
    then on how many the goal was met, per family (a shape, or the trace varied)."""
    met_by_family: dict[str, list[bool]] = {}
    beyond_reach = 0
    for trace in traces:
        rows = compare(trace)
        said = verdict(trace, rows)
        met_by_family.setdefault(family(trace), []).append(said == "met")
        beyond_reach += said == "out of reach"
        tasklane, keda = rows["tasklane"], rows["keda"]
        cost = tasklane["replica_seconds"] / max(keda["replica_seconds"], 1e-9)
        print(
            f"{trace.name:<26} {said:<12}"
            f" p95 {tasklane['wait_p95_s']:8.2f} s (limit {wait_limit(rows):8.2f})"
            f"  replica-seconds {cost:5.2f}x keda's"
            f"  [{trace.concurrency} slots, startup {trace.startup_s:.0f} s,"
            f" tasks {trace.task_mean_s:g} s, {tasklane['tasks']} tasks]"
        )
    summary = ", ".join(f"{name} {sum(m)}/{len(m)}" for name, m in met_by_family.items())
    total = sum(sum(m) for m in met_by_family.values())
    print(
        f"goal met on {total} of {len(traces)} {kind}"
        f" ({beyond_reach} of the misses out of reach of any policy): {summary}"
    )
    return total == len(traces)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasklane_autoscaler.bench")
    parser.add_argument("traces", nargs="*", type=Path)
    parser.add_argument(
        "--random", type=int, default=0, metavar="N", help="also N workloads drawn at random"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random workloads")
    parser.add_argument(
        "--vary", type=int, default=0, metavar="N", help="also N variants of every trace given"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when tasklane misses the goal on a trace"
    )
    args = parser.parse_args(argv)
    if not args.traces and not args.random:
        parser.error("give trace files, --random N, or both")
    if args.random < 0 or args.vary < 0:
        parser.error("--random and --vary must not be negative")
    if args.vary and not args.traces:
        parser.error("--vary needs trace files to vary")
    all_met = True
    traces = [Trace.load(path) for path in args.traces]
    if traces:
        all_met = print_table(traces)
    if args.vary:
        print()
        varied = [v for trace in traces for v in variants(trace, args.vary)]
        all_met = print_verdicts(varied, "variants", _varied) and all_met
    if args.random:
        if args.traces:
            print()
        drawn = draw_many(args.random, args.seed)
        all_met = print_verdicts(drawn, "random workloads", _shape) and all_met
    return 1 if args.strict and not all_met else 0


def _shape(trace: Trace) -> str:
    return trace.name.rsplit("-", 1)[0]


def _varied(trace: Trace) -> str:
    return trace.name.split("~", 1)[0]


def _header_cell(name: str, fmt: str) -> str:
    match = re.search(r":[<>]?(\d+)", fmt)
    width = int(match.group(1)) if match else len(name)
    return name.ljust(width) if "<" in fmt else name.rjust(width)


if __name__ == "__main__":
    sys.exit(main())
