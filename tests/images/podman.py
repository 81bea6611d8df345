"""The podman CLI, pointed at an image store of the tests' own.

The store (graph root and run root) is separate from the user's, so the stand-ins of the
upstream base images the tests may build never reach the store `make images` builds from."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class PodmanError(RuntimeError):
    pass


def store_config(cache_dir: Path, run_dir: Path) -> Path:
    """A containers-storage configuration for the tests' image store; podman reads it from
    CONTAINERS_STORAGE_CONF. Images and layers persist in cache_dir between runs."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / "storage.conf"
    path.write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{cache_dir / "graph"}"\n'
        f'runroot = "{run_dir}"\n'
    )
    return path


@dataclass
class Podman:
    binary: str
    storage_conf: Path
    # Every container and network this object created, removed by remove_all().
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_STORAGE_CONF": str(self.storage_conf)}

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.binary, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise PodmanError(
                f"podman {' '.join(args[:3])} ... exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        return done

    def has_image(self, name: str) -> bool:
        return self.run("image", "exists", name, check=False).returncode == 0

    def image_config(self, name: str) -> dict[str, Any]:
        inspected: list[dict[str, Any]] = json.loads(self.run("image", "inspect", name).stdout)
        return inspected[0]

    def image_size(self, name: str) -> int:
        return int(self.image_config(name)["Size"])

    def start(self, name: str, run_args: Sequence[str]) -> str:
        """`podman run --detach --name NAME ...`; the container is removed by remove_all()."""
        self.containers.append(name)
        self.run("run", "--detach", "--name", name, *run_args)
        return name

    def exec(
        self, container: str, command: Sequence[str], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return self.run("exec", container, *command, check=False, timeout=timeout)

    def logs(self, container: str) -> str:
        done = self.run("logs", container, check=False)
        return done.stdout + done.stderr

    def state(self, container: str) -> dict[str, Any]:
        inspected = json.loads(self.run("container", "inspect", container).stdout)
        state: dict[str, Any] = inspected[0]["State"]
        return state

    def ip_address(self, container: str, network: str) -> str:
        inspected = json.loads(self.run("container", "inspect", container).stdout)
        address: str = inspected[0]["NetworkSettings"]["Networks"][network]["IPAddress"]
        return address

    def published(self, container: str, port: int) -> tuple[str, int]:
        """The host address a container port is published on (`--publish 127.0.0.1::PORT`)."""
        line = self.run("port", container, f"{port}/tcp").stdout.strip().splitlines()[0]
        host, _, number = line.rpartition(":")
        return host, int(number)

    def create_network(self, name: str) -> str:
        self.networks.append(name)
        self.run("network", "create", name)
        return name

    def remove_all(self) -> None:
        for container in reversed(self.containers):
            self.run("rm", "--force", "--time", "0", container, check=False)
        self.containers.clear()
        for network in reversed(self.networks):
            self.run("network", "rm", "--force", network, check=False)
        self.networks.clear()

    @contextlib.contextmanager
    def session(self) -> Iterator[Podman]:
        """A Podman on the same store whose containers and networks go when the block ends."""
        scoped = Podman(self.binary, self.storage_conf)
        try:
            yield scoped
        finally:
            scoped.remove_all()


def environment_args(env: Mapping[str, str]) -> list[str]:
    return [f"--env={name}={value}" for name, value in env.items()]
