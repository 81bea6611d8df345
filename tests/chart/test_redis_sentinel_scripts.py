"""The Sentinel pods' configuration and start scripts, as the chart renders them, run on real
`redis-server` processes: three "pods" on three loopback addresses (the pods' stable names),
each running the rendered start-redis.sh and start-sentinel.sh with the environment the
StatefulSet gives them, only the addresses and directories changed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tasklane_contract.redis_clients import redis_client
from tasklane_contract.settings import Settings
from tests.chart.render import containers, env_of, one, render
from tests.support.polling import eventually

pytestmark = pytest.mark.slow

VALUES = {"redis": {"architecture": "sentinel", "sentinel": {"downAfterMilliseconds": 2000}}}
ADDRESSES = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
PASSWORD = 'pod "secret" \\ $HOME'  # a user's own Secret may hold any of these


def _free_everywhere() -> int:
    """A port free on every pod address."""
    while True:
        with socket.socket() as probe:
            probe.bind((ADDRESSES[0], 0))
            port = int(probe.getsockname()[1])
        try:
            for address in ADDRESSES[1:]:
                with socket.socket() as other:
                    other.bind((address, port))
        except OSError:
            continue
        return port


class Pod:
    """One pod: its Redis and its Sentinel containers as processes, its data directory kept
    across restarts as the volume is."""

    def __init__(self, n: int, config_dir: Path, env: dict[str, str], root: Path) -> None:
        self.address = ADDRESSES[n]
        self.data = root / f"pod-{n}" / "data"
        self.runtime = root / f"pod-{n}" / "tmp"
        for directory in (self.data, self.runtime):
            directory.mkdir(parents=True, exist_ok=True)
        self.config_dir = config_dir
        self.env = {
            **env,
            "REDIS_SELF": self.address,
            "REDIS_BIND": self.address,
            "REDIS_LOCAL_HOST": self.address,
            "REDIS_CONFIG_DIR": str(config_dir),
            "REDIS_DATA_DIR": str(self.data),
            "REDIS_RUNTIME_DIR": str(self.runtime),
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for container in ("redis", "sentinel"):
            log = (self.data.parent / f"{container}.log").open("ab")
            self.processes[container] = subprocess.Popen(
                ["sh", str(self.config_dir / f"start-{container}.sh")],
                env={"PATH": os.environ["PATH"], **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, signum: int = signal.SIGTERM) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signum)
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def redis(self) -> redis.Redis:
        port = int(self.env["REDIS_PORT"])
        return redis.Redis(self.address, port, password=PASSWORD, socket_timeout=2)

    def replication(self) -> dict[str, object]:
        with self.redis() as client:
            info: dict[str, object] = client.info("replication")
            return info

    def prestop(self) -> None:
        subprocess.run(
            ["sh", str(self.config_dir / "prestop-redis.sh")],
            env={"PATH": os.environ["PATH"], **self.env},
            check=True,
            timeout=30,
        )


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[list[Pod]]:
    objects = render(VALUES)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    for name, text in one(objects, "ConfigMap", "demo-tasklane-redis")["data"].items():
        (config_dir / name).write_text(text)
    redis_container, _sentinel = containers(one(objects, "StatefulSet", "demo-tasklane-redis"))
    rendered = {n: v["value"] for n, v in env_of(redis_container).items() if "value" in v}
    env = {
        "REDIS_MASTER_NAME": rendered["REDIS_MASTER_NAME"],
        "SENTINEL_QUORUM": rendered["SENTINEL_QUORUM"],
        "REDIS_NODES": " ".join(ADDRESSES),
        "REDIS_PORT": str(_free_everywhere()),
        "SENTINEL_PORT": str(_free_everywhere()),
        "REDIS_PASSWORD": PASSWORD,
        "REDISCLI_AUTH": PASSWORD,
    }
    started = [Pod(n, config_dir, env, tmp_path) for n in range(3)]
    try:
        yield started
    finally:
        for pod in started:
            pod.stop(signal.SIGKILL)


def settings(pods: list[Pod]) -> Settings:
    port = pods[0].env["SENTINEL_PORT"]
    return Settings(
        redis_sentinels=",".join(f"{p.address}:{port}" for p in pods),
        redis_master_name=pods[0].env["REDIS_MASTER_NAME"],
        redis_password=PASSWORD,
        redis_sentinel_password=PASSWORD,
    )


def sentinels_agree(pods: list[Pod], replicas: int = 2) -> str | None:
    """The master's address when every running sentinel names it and sees the others."""
    named = set()
    for pod in pods:
        sentinel = pod.processes.get("sentinel")
        if sentinel is None or sentinel.poll() is not None:
            continue
        port = int(pod.env["SENTINEL_PORT"])
        try:
            with redis.Redis(pod.address, port, password=PASSWORD, decode_responses=True) as c:
                state = c.sentinel_master(pod.env["REDIS_MASTER_NAME"])
        except redis.RedisError:
            return None
        if state["num-slaves"] < replicas or "s_down" in state["flags"]:
            return None
        named.add(state["ip"])
    return named.pop() if len(named) == 1 else None


def role_of(pod: Pod) -> str | None:
    try:
        return str(pod.replication()["role"])
    except redis.RedisError:
        return None


def written(client: redis.Redis, value: str) -> bool:
    """Whether the write went through: a new master refuses writes (NOREPLICAS) until a replica
    follows it, and clients keep asking the sentinels until then."""
    try:
        return bool(client.set("kept", value))
    except redis.RedisError:
        return False


def kept(client: redis.Redis) -> bytes | str | None:
    """The value written, once a master answers (None while the clients are between two)."""
    try:
        return client.get("kept")
    except redis.RedisError:
        return None


def test_the_rendered_pods_elect_follow_and_fail_over(pods: list[Pod]) -> None:
    # A first install: nothing known, pod 0 is the master and the others follow it.
    for pod in pods:
        pod.start()
    assert eventually(lambda: sentinels_agree(pods), timeout_s=60, every_s=0.5) == ADDRESSES[0]
    assert [role_of(p) for p in pods] == ["master", "slave", "slave"]
    client = redis_client(settings(pods), socket_timeout=2)
    eventually(lambda: written(client, "before the failover"), timeout_s=30)
    # Every node writes an append-only file; a master alone refuses writes.
    with pods[1].redis() as replica:
        assert replica.config_get("appendonly") == {"appendonly": "yes"}
        assert replica.config_get("min-replicas-to-write") == {"min-replicas-to-write": "1"}

    # Pod 0 is lost: the sentinels promote another; clients follow.
    pods[0].stop(signal.SIGKILL)
    promoted = eventually(
        lambda: (m := sentinels_agree(pods[1:], replicas=1)) and m != ADDRESSES[0] and m,
        timeout_s=60,
        every_s=0.5,
    )
    assert eventually(lambda: kept(client) == b"before the failover", timeout_s=30)

    # Pod 0 comes back: it asks the sentinels, and follows the promoted master.
    pods[0].start()
    eventually(lambda: pods[0].replication().get("master_link_status") == "up", timeout_s=60)
    assert pods[0].replication()["master_host"] == promoted
    assert eventually(lambda: sentinels_agree(pods), timeout_s=60, every_s=0.5) == promoted

    # A rollout stops the master: its preStop hands over to a replica first.
    master = next(p for p in pods if p.address == promoted)
    master.prestop()
    assert role_of(master) == "slave"
    handed_to = eventually(
        lambda: (m := sentinels_agree(pods)) and m != promoted and m, timeout_s=60, every_s=0.5
    )
    eventually(lambda: written(client, "after the handover"), timeout_s=30)

    # The master's pod stops first, and the others fail over before they stop too: the pods
    # last knew different masters. All start at once: the sentinels agree again on the master
    # of the latest failover, the old master follows it, and no data is lost.
    old = next(p for p in pods if p.address == handed_to)
    others = [p for p in pods if p is not old]
    old.stop()
    latest = eventually(
        lambda: (m := sentinels_agree(others, replicas=1)) and m != handed_to and m,
        timeout_s=60,
        every_s=0.5,
    )
    eventually(lambda: written(client, "after the last failover"), timeout_s=30)
    for pod in others:
        pod.stop()
    for pod in pods:
        pod.start()
    assert eventually(lambda: sentinels_agree(pods), timeout_s=120, every_s=0.5) == latest
    eventually(lambda: old.replication().get("master_host") == latest, timeout_s=60)
    assert eventually(lambda: kept(client) == b"after the last failover", timeout_s=30)
    client.close()
