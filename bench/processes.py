"""Starting and measuring the processes a benchmark run compares."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path


class Process:
    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.popen = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, ready: Callable[[], bool], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready:\n{self.log()}")
            time.sleep(0.05)

    def peak_rss_mib(self) -> dict[str, float]:
        """Peak resident memory (VmHWM) of the process and of its largest child."""
        own = _vm_hwm_kib(self.popen.pid)
        children = [_vm_hwm_kib(pid) for pid in _children(self.popen.pid)]
        result = {"main": own / 1024}
        if children:
            result["largest_child"] = max(children) / 1024
        return result

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # anything it left behind
        self.popen.wait()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _vm_hwm_kib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(p) for p in found]
