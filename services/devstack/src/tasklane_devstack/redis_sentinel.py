"""A Redis master, its replicas and the sentinels that watch them, as local processes: what the
failover tests and `make bench`'s replicated figures run against.

Every node and sentinel listens on 127.0.0.1 on a free port, with one password for Redis and
Sentinel, and as in the chart each node writes an append-only file and a master refuses writes
while no replica follows it (min-replicas-to-write 1)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import redis

from tasklane_contract.settings import Settings
from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import (
    RedisServer,
    ServerProcess,
    StartedInWith,
    find_redis_server,
)

T = TypeVar("T")
HOST = "127.0.0.1"


def _eventually(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = probe()
        except redis.RedisError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout_s}s")
        time.sleep(0.05)


class SentinelServer(ServerProcess):
    """`redis-server <config> --sentinel`; the config file is the sentinel's own to rewrite."""

    def __init__(self, port: int, data_dir: Path, binary: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = data_dir / "sentinel.conf"
        self.binary = binary
        self.process = None

    def start(self, config: str) -> None:
        self.config_path.write_text(config)
        log = (self.data_dir / "sentinel.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.binary), str(self.config_path), "--sentinel"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


class ReplicatedRedis(StartedInWith):
    """A master, `replicas` replicas following it and `sentinels` sentinels (quorum: a
    majority). `nodes[0]` starts as the master; after a failover ask `master()`."""

    def __init__(
        self,
        base_dir: Path | None = None,
        *,
        replicas: int = 2,
        sentinels: int = 3,
        password: str = "replicated-secret",
        master_name: str = "tasklane",
        down_after_ms: int = 5000,
        failover_timeout_ms: int = 20000,
        min_replicas_to_write: int = 1,
    ) -> None:
        self._own_dir = base_dir is None
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="tasklane-sentinel-"))
        self.password = password
        self.master_name = master_name
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.quorum = sentinels // 2 + 1
        binary = find_redis_server()
        self.nodes = [
            RedisServer(
                free_port(),
                self.base_dir / f"node-{n}",
                appendonly=True,
                appendfsync="everysec",  # as the chart runs Redis
                password=password,
                binary=binary,
                extra_args=[
                    *("--masterauth", password),
                    *("--min-replicas-to-write", str(min_replicas_to_write)),
                    *("--min-replicas-max-lag", "10"),
                ],
            )
            for n in range(replicas + 1)
        ]
        self.sentinels = [
            SentinelServer(free_port(), self.base_dir / f"sentinel-{n}", binary)
            for n in range(sentinels)
        ]

    # --- addresses and settings ---

    @property
    def sentinel_addresses(self) -> str:
        return ",".join(f"{HOST}:{s.port}" for s in self.sentinels)

    def settings_env(self, db: int = 0) -> dict[str, str]:
        """The TASKLANE_* variables of a client that finds the master through the sentinels."""
        return {
            "TASKLANE_REDIS_URL": f"redis://{HOST}/{db}",
            "TASKLANE_REDIS_PASSWORD": self.password,
            "TASKLANE_REDIS_SENTINELS": self.sentinel_addresses,
            "TASKLANE_REDIS_MASTER_NAME": self.master_name,
            "TASKLANE_REDIS_SENTINEL_PASSWORD": self.password,
        }

    def settings(self, db: int = 0) -> Settings:
        """`settings_env`, as the Settings those variables make."""
        return Settings(
            redis_url=f"redis://{HOST}/{db}",
            redis_password=self.password,
            redis_sentinels=self.sentinel_addresses,
            redis_master_name=self.master_name,
            redis_sentinel_password=self.password,
        )

    def client(self, node: RedisServer, **options: object) -> redis.Redis:
        return redis.Redis(HOST, node.port, password=self.password, **options)  # type: ignore[arg-type]

    def sentinel_client(self, sentinel: SentinelServer) -> redis.Redis:
        return redis.Redis(
            HOST, sentinel.port, password=self.password, socket_timeout=1, decode_responses=True
        )

    # --- lifecycle ---

    def start(self) -> ReplicatedRedis:
        master, *replicas = self.nodes
        try:
            master.start()
            for replica in replicas:
                replica.extra_args += ["--replicaof", HOST, str(master.port)]
                replica.start()
            for replica in replicas:
                self.wait_until_synced(replica)
            for sentinel in self.sentinels:
                sentinel.start(self.sentinel_config(sentinel, master.port))
            self.wait_until_watched(master)
        except BaseException:
            self.cleanup()
            raise
        return self

    def sentinel_config(self, sentinel: SentinelServer, master_port: int) -> str:
        name = self.master_name
        return "\n".join(
            [
                f"port {sentinel.port}",
                f"bind {HOST}",
                f"dir {sentinel.data_dir}",
                f'requirepass "{self.password}"',
                f'sentinel sentinel-pass "{self.password}"',
                f"sentinel monitor {name} {HOST} {master_port} {self.quorum}",
                f'sentinel auth-pass {name} "{self.password}"',
                f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
                f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
                f"sentinel parallel-syncs {name} 1",
                "",
            ]
        )

    def wait_until_synced(self, replica: RedisServer, timeout_s: float = 30.0) -> None:
        with self.client(replica) as client:
            _eventually(
                lambda: client.info("replication").get("master_link_status") == "up",
                timeout_s,
                f"replica on port {replica.port} in sync",
            )

    def wait_until_watched(self, master: RedisServer, timeout_s: float = 30.0) -> None:
        """Every live sentinel names `master`, knows its live replicas and the other sentinels."""
        live_sentinels = [s for s in self.sentinels if _alive(s.process)]
        live_replicas = [n for n in self.nodes if n is not master and _alive(n.process)]

        def watched() -> bool:
            for sentinel in live_sentinels:
                with self.sentinel_client(sentinel) as client:
                    state = client.sentinel_master(self.master_name)
                    if int(state["port"]) != master.port or "s_down" in state["flags"]:
                        return False
                    if state["num-slaves"] < len(live_replicas):
                        return False
                    if state["num-other-sentinels"] < len(live_sentinels) - 1:
                        return False
            return True

        _eventually(watched, timeout_s, "every sentinel watching the master")

    def master(self) -> RedisServer:
        """The node the sentinels name as master now."""
        for sentinel in self.sentinels:
            if not _alive(sentinel.process):
                continue
            with self.sentinel_client(sentinel) as client:
                try:
                    _host, port = client.sentinel_get_master_addr_by_name(self.master_name)
                except redis.RedisError:
                    continue
            return self.node(int(port))
        raise RuntimeError("no sentinel answers")

    def node(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    def wait_for_new_master(self, old: RedisServer, timeout_s: float = 60.0) -> RedisServer:
        """The node every live sentinel names once they promoted another than `old`."""

        def promoted() -> RedisServer | None:
            ports = set()
            for sentinel in self.sentinels:
                if _alive(sentinel.process) and not _paused(sentinel.process):
                    with self.sentinel_client(sentinel) as client:
                        ports.add(int(client.sentinel_get_master_addr_by_name(self.master_name)[1]))
            if len(ports) != 1 or old.port in ports:
                return None
            new = self.node(ports.pop())
            with self.client(new, socket_timeout=1) as client:
                return new if client.info("replication")["role"] == "master" else None

        return _eventually(promoted, timeout_s, "a new master")

    def cleanup(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for node in self.nodes:
            node.stop()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)


def _alive(process: subprocess.Popen[bytes] | None) -> bool:
    return process is not None and process.poll() is None


def _paused(process: subprocess.Popen[bytes] | None) -> bool:
    if process is None:
        return False
    try:
        state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state == "T"
