"""Replay a workload trace against one scaling policy and print what it cost and how long
tasks waited.

    python -m tasklane_autoscaler.simulate --trace traces/flash-crowd.json --policy keda --json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tasklane_autoscaler.sim.controllers import POLICIES
from tasklane_autoscaler.sim.engine import Simulation, percentile
from tasklane_autoscaler.sim.trace import Trace


def simulate(trace: Trace, policy: str) -> dict[str, Any]:
    """One run, summarised: the JSON line the CLI prints."""
    outcome = Simulation(trace, POLICIES[policy](trace)).run()
    waits = sorted(outcome.waits)
    return {
        "trace": trace.name,
        "policy": policy,
        "tasks": len(waits),
        "completed": outcome.completed,
        "wait_mean_s": round(sum(waits) / len(waits), 3) if waits else 0.0,
        "wait_p50_s": round(percentile(waits, 0.50), 3),
        "wait_p95_s": round(percentile(waits, 0.95), 3),
        "wait_p99_s": round(percentile(waits, 0.99), 3),
        "wait_max_s": round(waits[-1], 3) if waits else 0.0,
        "replica_seconds": round(outcome.replica_seconds, 1),
        "max_replicas": outcome.max_replicas,
        "scale_events": outcome.scale_events,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasklane_autoscaler.simulate")
    parser.add_argument("--trace", required=True, type=Path, help="workload trace (JSON)")
    parser.add_argument("--policy", required=True, choices=sorted(POLICIES))
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    result = simulate(Trace.load(args.trace), args.policy)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:16} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
