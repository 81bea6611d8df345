"""Liveness probe: `python -m tasklane_worker.liveness [--max-age SECONDS]` exits 1 when the
worker's heartbeat file is missing or older than the limit."""

from __future__ import annotations

import argparse
import sys
import time

from tasklane_contract.settings import Settings


def heartbeat_age_s(mtime: float, now: float) -> float:
    return max(0.0, now - mtime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-age", type=float, default=60.0, help="seconds (default 60)")
    options = parser.parse_args(argv)
    path = Settings().worker_heartbeat_file
    if path is None:
        print("TASKLANE_WORKER_HEARTBEAT_FILE is not set", file=sys.stderr)
        return 1
    try:
        age = heartbeat_age_s(path.stat().st_mtime, time.time())
    except FileNotFoundError:
        print(f"no heartbeat file at {path}", file=sys.stderr)
        return 1
    if age > options.max_age:
        print(f"heartbeat is {age:.0f}s old (limit {options.max_age:.0f}s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
