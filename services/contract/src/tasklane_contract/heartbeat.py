"""Heartbeat files: a long-running process (worker, beat) rewrites its file from its own loop
with the state it is in, and a probe command reads the file's age and state.

The age tells a stuck process (its loop no longer turns, the file ages) from a live one; the
state tells a process doing its work from one alive but waiting, e.g. for Redis. Liveness asks
only for a fresh file, so waiting out an outage never gets a process restarted; readiness may
also ask for a state that does the work.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

# The state every process writes while it retries its connection to Redis.
WAITING_FOR_REDIS = "waiting-for-redis"


def beat(path: Path, state: str) -> None:
    """Write `state` to `path`, which also renews its modification time. Written aside and
    renamed, so a probe never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    aside.write_text(state + "\n")
    aside.replace(path)


@dataclass(frozen=True)
class Heartbeat:
    state: str
    age_s: float


def read(path: Path, now: float | None = None) -> Heartbeat:
    """The file's state and age; FileNotFoundError when it was never written."""
    text = path.read_text()
    age = max(0.0, (time.time() if now is None else now) - path.stat().st_mtime)
    return Heartbeat(state=text.strip() or "unknown", age_s=age)


def problem(heartbeat: Heartbeat, max_age_s: float, ready_states: Collection[str] = ()) -> str:
    """Why the probe fails, or "" when it passes. With `ready_states`, the state must be one."""
    if heartbeat.age_s > max_age_s:
        return (
            f"heartbeat is {heartbeat.age_s:.0f}s old (limit {max_age_s:.0f}s), "
            f"last state {heartbeat.state}"
        )
    if ready_states and heartbeat.state not in ready_states:
        return f"not ready: {heartbeat.state}"
    return ""


def probe_command(
    argv: Sequence[str] | None,
    path: Path | None,
    setting: str,
    ready_states: Collection[str],
    description: str,
) -> int:
    """The probe's command line: exit 0 when the heartbeat passes, else 1 and why on stderr.
    `--ready` also asks for one of `ready_states`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--max-age", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument(
        "--ready", action="store_true", help=f"also require the state {'/'.join(ready_states)}"
    )
    options = parser.parse_args(argv)
    if path is None:
        print(f"{setting} is not set", file=sys.stderr)
        return 1
    try:
        heartbeat = read(path)
    except FileNotFoundError:
        print(f"no heartbeat file at {path}", file=sys.stderr)
        return 1
    why = problem(heartbeat, options.max_age, ready_states if options.ready else ())
    if why:
        print(why, file=sys.stderr)
        return 1
    return 0
