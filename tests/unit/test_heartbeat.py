"""Heartbeat files: written whole with a state, read back with their age, judged by a probe."""

from __future__ import annotations

import os
from pathlib import Path

from tasklane_contract.heartbeat import Heartbeat, beat, problem, read


def test_a_heartbeat_is_written_whole_and_read_with_its_age(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "heartbeat"
    beat(path, "waiting-for-redis")
    assert list(path.parent.iterdir()) == [path]  # nothing left aside
    os.utime(path, (1000.0, 1000.0))
    assert read(path, now=1012.5) == Heartbeat(state="waiting-for-redis", age_s=12.5)
    beat(path, "consuming")
    assert read(path).state == "consuming"
    assert read(path).age_s < 5


def test_liveness_asks_for_a_fresh_file_whatever_the_state() -> None:
    assert problem(Heartbeat("waiting-for-redis", 10), max_age_s=60) == ""
    assert problem(Heartbeat("consuming", 61), max_age_s=60) == (
        "heartbeat is 61s old (limit 60s), last state consuming"
    )


def test_readiness_also_asks_for_a_working_state() -> None:
    ready = {"consuming"}
    assert problem(Heartbeat("consuming", 1), 60, ready) == ""
    assert problem(Heartbeat("waiting-for-redis", 1), 60, ready) == "not ready: waiting-for-redis"
    assert problem(Heartbeat("consuming", 70), 60, ready).startswith("heartbeat is 70s old")
