"""Beat on a real Redis: two beats never double the schedule, and one beat rides out Redis
going away (a minute-long outage, a Redis not up yet, a wrong password) in the same process."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tasklane_beat.app import LOCK_TIMEOUT_S
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.chart_probes import exec_probe, run_probe
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess


def test_two_beats_do_not_double_fire(fresh_redis: RedisServer, tmp_path: Path) -> None:
    env = {
        "TASKLANE_REDIS_URL": fresh_redis.url,
        "TASKLANE_BEAT_SCHEDULE": json.dumps({"cleanup-submitted-index": 1}),
    }
    beats = [ServiceProcess(f"beat{i}", "tasklane_beat", env, tmp_path) for i in (1, 2)]
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        started = time.monotonic()
        time.sleep(8)
        fired = client.llen("maintenance")
        elapsed = time.monotonic() - started
        lock_holders = [b.name for b in beats if "Acquired lock" in b.log()]
        assert len(lock_holders) == 1, [b.log() for b in beats]
        # One firing a second; two unlocked beats would have queued about twice as many.
        assert 4 <= fired <= elapsed + 1, fired
        messages = [json.loads(m) for m in client.lrange("maintenance", 0, -1)]
        assert {m["headers"]["task"] for m in messages} == {"maintenance.cleanup"}
    finally:
        for beat in beats:
            beat.stop()
        client.close()


def test_the_other_beat_takes_over_when_the_lock_holder_dies(
    fresh_redis: RedisServer, tmp_path: Path
) -> None:
    env = {
        "TASKLANE_REDIS_URL": fresh_redis.url,
        "TASKLANE_BEAT_SCHEDULE": json.dumps({"cleanup-submitted-index": 2}),
    }
    envs = {i: {**env, "TASKLANE_BEAT_HEARTBEAT_FILE": str(tmp_path / f"hb{i}")} for i in (1, 2)}
    beats = [ServiceProcess(f"beat{i}", "tasklane_beat", envs[i], tmp_path) for i in (1, 2)]
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        holder = eventually(
            lambda: next((b for b in beats if "Acquired lock" in b.log()), None), timeout_s=20
        )
        standby = next(b for b in beats if b is not holder)
        eventually(lambda: client.llen("maintenance") >= 2, timeout_s=10)
        # The one without the lock stands by, alive: its loop tries for the lock every 5 s.
        standby_env = envs[beats.index(standby) + 1]
        states = {
            b.name: Path(envs[i + 1]["TASKLANE_BEAT_HEARTBEAT_FILE"]).read_text().strip()
            for i, b in enumerate(beats)
        }
        assert states == {holder.name: "firing", standby.name: "standby"}
        assert _liveness(standby_env).returncode == 0
        holder.kill()
        fired_at_death = client.llen("maintenance")
        killed_at = time.monotonic()
        standby.wait_for_log("Acquired lock", timeout_s=LOCK_TIMEOUT_S + 15)
        took_over_after = time.monotonic() - killed_at
        # The run that fell due while nobody held the lock fires at once, late but not lost.
        eventually(lambda: client.llen("maintenance") > fired_at_death, timeout_s=3)
        time.sleep(6)
        fired_since = client.llen("maintenance") - fired_at_death
        # One run every 2 s from the takeover on, plus the late one; never a burst of catch-ups.
        assert 3 <= fired_since <= 6, fired_since
        assert took_over_after <= LOCK_TIMEOUT_S + 10
    finally:
        for beat in beats:
            beat.stop()
        client.close()


BEAT_PROBE_MAX_AGE_S = 15  # the least the chart allows; beat writes its file every 5 s or less


def _beat_env(redis_url: str, heartbeat: Path) -> dict[str, str]:
    return {
        "TASKLANE_REDIS_URL": redis_url,
        "TASKLANE_BEAT_SCHEDULE": json.dumps({"cleanup-submitted-index": 1}),
        "TASKLANE_BEAT_HEARTBEAT_FILE": str(heartbeat),
    }


def _liveness(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = exec_probe(
        "beat/beat-deployment.yaml",
        "livenessProbe",
        {"beat": {"heartbeatMaxAgeSeconds": BEAT_PROBE_MAX_AGE_S}},
    )
    return run_probe(command, {**os.environ, **env})


def _attempt_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "; attempt " in line]


@pytest.mark.slow
def test_beat_rides_out_a_redis_outage_of_over_a_minute(tmp_path: Path) -> None:
    redis_server = RedisServer(free_port(), tmp_path / "redis", appendonly=True).start()
    env = _beat_env(redis_server.url, tmp_path / "beat-heartbeat")
    beat = ServiceProcess("beat", "tasklane_beat", env, tmp_path)
    client = redis.Redis.from_url(redis_server.url)
    try:
        eventually(lambda: client.llen("maintenance") >= 3, timeout_s=30)
        # Writes are held from here to the kill, so no run can land between the count and it.
        client.client_pause(30_000, all=False)
        fired_before = client.llen("maintenance")

        redis_server.process.kill()  # type: ignore[union-attr]  # killed, not shut down
        redis_server.process.wait()  # type: ignore[union-attr]
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < 65:
            time.sleep(5)
            assert beat.process.poll() is None, beat.log()
            probe = _liveness(env)
            assert probe.returncode == 0, probe.stderr  # waiting, not stuck: not restarted
        waiting = _attempt_lines(beat.log())
        assert len(waiting) >= 10, beat.log()  # retried all along, with a backoff up to 5 s
        assert all("Redis is unreachable" in line for line in waiting), waiting
        assert "Traceback" not in beat.log()

        redis_server.start()  # from its append-only file
        restarted_at = time.monotonic()
        assert client.llen("maintenance") == fired_before  # the AOF kept what was sent
        eventually(lambda: client.llen("maintenance") > fired_before, timeout_s=30)
        fired_again_after = time.monotonic() - restarted_at
        time.sleep(6)
        fired_since = client.llen("maintenance") - fired_before
        window = time.monotonic() - restarted_at
        # The ~65 runs that fell due in the outage are one late run, then one a second: a
        # catch-up of each (or any run sent twice) would be many more.
        assert 3 <= fired_since <= window + 2, (fired_since, window)
        assert beat.process.poll() is None  # the same process throughout
        assert client.get("tasklane:beat:lock") is not None  # it holds the lock again
        assert "Redis is back after" in beat.log()
        print(
            f"outage {restarted_at - killed_at:.0f} s, {len(waiting)} attempts; fired again "
            f"{fired_again_after:.1f} s after Redis came back; {fired_since} runs in the "
            f"{window:.1f} s after it"
        )

        # A stuck beat (stopped, so its loop no longer turns) fails the same probe.
        with beat.frozen(BEAT_PROBE_MAX_AGE_S + 2):
            stuck = _liveness(env)
        assert stuck.returncode == 1
        assert "heartbeat is" in stuck.stderr and "last state firing" in stuck.stderr
    finally:
        beat.stop()
        client.close()
        redis_server.cleanup()


def test_beat_started_before_redis_waits_for_it(tmp_path: Path) -> None:
    redis_server = RedisServer(free_port(), tmp_path / "redis")
    env = _beat_env(redis_server.url, tmp_path / "beat-heartbeat")
    beat = ServiceProcess("beat", "tasklane_beat", env, tmp_path)
    try:
        beat.wait_for(lambda: len(_attempt_lines(beat.log())) >= 3, timeout_s=30)
        probe = _liveness(env)
        assert probe.returncode == 0, probe.stderr
        assert (tmp_path / "beat-heartbeat").read_text().strip() == "waiting-for-redis"

        redis_server.start()
        started_at = time.monotonic()
        client = redis.Redis.from_url(redis_server.url)
        try:
            eventually(lambda: client.llen("maintenance") >= 2, timeout_s=30)
        finally:
            client.close()
        print(f"beat fired {time.monotonic() - started_at:.1f} s after Redis came up")
        assert beat.process.poll() is None
        assert "Traceback" not in beat.log()
    finally:
        beat.stop()
        redis_server.cleanup()


def test_a_wrong_password_is_one_clear_line_per_attempt(tmp_path: Path) -> None:
    redis_server = RedisServer(free_port(), tmp_path / "redis", password="right-Pa55").start()
    url = redis_server.url.replace("right-Pa55", "wrong-Pa55")
    env = _beat_env(url, tmp_path / "beat-heartbeat")
    beat = ServiceProcess("beat", "tasklane_beat", env, tmp_path)
    try:
        beat.wait_for(lambda: len(_attempt_lines(beat.log())) >= 3, timeout_s=30)
        log = beat.log()
        for line in _attempt_lines(log):
            assert "Redis refused the credentials" in line, line
            assert "check TASKLANE_REDIS_PASSWORD" in line, line
        assert "Traceback" not in log
        assert "wrong-Pa55" not in log and "right-Pa55" not in log
        # Everything beat logged after its banner is those lines.
        after_start = log.split("beat: Starting...", 1)[1].strip().splitlines()
        assert after_start == _attempt_lines(log), after_start
        assert beat.process.poll() is None  # still trying: a fixed Secret needs no restart
    finally:
        beat.stop()
        redis_server.cleanup()
