"""`make bench-autoscale`: every trace against every policy, as a table, plus whether tasklane
met its goal: p95 wait at most halfway from KEDA's to the floor's (or at most 1 s), for no more
replica-seconds than KEDA.

    python -m tasklane_autoscaler.bench services/autoscaler/traces/*.json
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tasklane_autoscaler.sim.trace import Trace
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


def goal_met(rows: dict[str, dict[str, Any]]) -> bool:
    tasklane, keda, floor = (rows[p] for p in POLICY_ORDER)
    halfway = (keda["wait_p95_s"] + floor["wait_p95_s"]) / 2
    fast_enough = tasklane["wait_p95_s"] <= max(halfway, 1.0)
    return bool(fast_enough and tasklane["replica_seconds"] <= keda["replica_seconds"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasklane_autoscaler.bench")
    parser.add_argument("traces", nargs="+", type=Path)
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when tasklane misses the goal on a trace"
    )
    args = parser.parse_args(argv)
    print(" ".join(_header_cell(name, fmt) for name, fmt in COLUMNS))
    all_met = True
    for path in args.traces:
        trace = Trace.load(path)
        rows = {policy: simulate(trace, policy) for policy in POLICY_ORDER}
        for policy in POLICY_ORDER:
            print(" ".join(fmt.format(rows[policy][name]) for name, fmt in COLUMNS))
        met = goal_met(rows)
        all_met = all_met and met
        print(
            f"{'':18} goal {'met' if met else 'NOT met'}: tasklane p95 <= max(1 s, "
            f"(keda + floor) / 2) and replica_seconds <= keda's"
        )
    return 1 if args.strict and not all_met else 0


def _header_cell(name: str, fmt: str) -> str:
    match = re.search(r":[<>]?(\d+)", fmt)
    width = int(match.group(1)) if match else len(name)
    return name.ljust(width) if "<" in fmt else name.rjust(width)


if __name__ == "__main__":
    sys.exit(main())
