"""Starting the stack's processes and stopping every one of them, whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    retiring: bool = False  # asked to stop: its exit is expected, not a crash
    essential: bool = True  # its exit stops the stack (celery-exporter's does not)


class Supervisor:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.children: list[Child] = []

    def start(self, name: str, module: str, *args: str) -> Child:
        return self.start_command(name, [sys.executable, "-m", module, *args])

    def start_command(
        self,
        name: str,
        argv: list[str],
        *,
        extra_env: Mapping[str, str] | None = None,
        essential: bool = True,
    ) -> Child:
        process = subprocess.Popen(
            argv,
            env={**self.env, **(extra_env or {})},
            # Own process group: the terminal's Ctrl-C reaches only us, and we stop the
            # children in order instead of all at once.
            start_new_session=True,
        )
        child = Child(name, process, essential=essential)
        self.children.append(child)
        return child

    def first_exited(self, *, essential: bool = True) -> Child | None:
        """A child (essential or not) that stopped without being asked to."""
        return next(
            (
                c
                for c in self.children
                if c.essential == essential and not c.retiring and c.process.poll() is not None
            ),
            None,
        )

    def retire(self, child: Child) -> None:
        """SIGTERM one child and let it finish (a worker completes its running tasks within its
        shutdown timeout and gives back the rest)."""
        child.retiring = True
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)

    def stop_all(self, timeout_s: float = 30.0) -> None:
        """SIGTERM each child, then SIGKILL what is left of its group.

        SIGTERM goes to the child alone, as Kubernetes sends it to a container's first
        process: a worker then finishes its running tasks, while a signal to the whole group
        would reach its pool processes too and cut those tasks short."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in self.children:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)  # orphans of a crashed child
