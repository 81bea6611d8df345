"""Real tasklane processes for tests: started with their logs in a file, stopped for sure."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx


class ServiceProcess:
    def __init__(self, name: str, module: str, env: Mapping[str, str], log_dir: Path, *args: str):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=full_env,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, ready: Callable[[], bool], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready after {timeout_s}s:\n{self.log()}")
            time.sleep(0.1)

    def wait_for_log(self, text: str, timeout_s: float = 30.0) -> None:
        self.wait_for(lambda: text in self.log(), timeout_s)

    def signal(self, signum: int) -> None:
        """Signal the main process only, as Kubernetes does a container's first process."""
        if self.process.poll() is None:
            self.process.send_signal(signum)

    @contextlib.contextmanager
    def frozen(self, seconds: float) -> Iterator[None]:
        """SIGSTOP the main process for `seconds`, then run the block, then SIGCONT: a process
        whose loop hangs, as a liveness probe sees it."""
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self, timeout_s: float = 20.0) -> int:
        self.signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill_group()
            code = self.process.wait()
        self.kill_group()  # pool processes left behind by a crash
        return code

    def kill(self) -> None:
        """SIGKILL the process and everything it started: a node dying under it."""
        self.kill_group()
        self.process.wait()


def start_api(env: Mapping[str, str], log_dir: Path, port: int) -> ServiceProcess:
    api = ServiceProcess("api", "tasklane_api", {**env, "TASKLANE_API_PORT": str(port)}, log_dir)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    api.wait_for(healthy)
    return api


def start_worker(
    env: Mapping[str, str], log_dir: Path, name: str = "worker", *args: str
) -> ServiceProcess:
    worker = ServiceProcess(name, "tasklane_worker", env, log_dir, f"--hostname={name}@%h", *args)
    worker.wait_for_log(" ready.")
    return worker


def start_runner(tmp_path: Path, settings: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    """`make run`'s runner in tmp_path, with an embedded Redis of its own and these settings on
    top of this environment; returns it and its log."""
    env = {k: v for k, v in os.environ.items() if k != "TASKLANE_REDIS_URL"} | settings
    log = tmp_path / "run.log"
    runner = subprocess.Popen(
        [sys.executable, "-m", "tasklane_devstack"],
        cwd=tmp_path,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return runner, log
