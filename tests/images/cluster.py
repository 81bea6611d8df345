"""The chart's pods run by podman: each pod one container on a network of its own, started from
the rendered object as the kubelet would (chart_pods.py), with its probes run on request."""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from tests.images.chart_pods import (
    Probe,
    Rendered,
    command_args,
    container_env,
    container_port,
    probes,
    resource_args,
    security_args,
    service_backends,
    the_container,
    through_services,
    volume_args,
)
from tests.images.podman import Podman, environment_args


class PodmanCluster:
    def __init__(self, podman: Podman, rendered: Rendered, scratch: Path, network: str) -> None:
        self.podman = podman
        self.rendered = rendered
        self.scratch = scratch
        self.network = podman.create_network(network)
        self.backends = list(service_backends(rendered))
        self.service_ports = {service: ports for service, _, ports in self.backends}
        # Service name -> address of the pod behind it, once that pod runs.
        self.hosts: dict[str, str] = {}
        # Container name -> the rendered workload it runs.
        self.pods: dict[str, str] = {}

    def env(self, workload: str) -> dict[str, str]:
        container = the_container(self.rendered.workload(workload))
        env = container_env(container, self.rendered)
        return {name: through_services(value, self.service_ports) for name, value in env.items()}

    def start(
        self,
        workload: str,
        name: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> str:
        """Run the workload's pod; its Services point at it from then on."""
        name = name or f"{self.network}-{workload}"
        rendered = self.rendered.workload(workload)
        container = the_container(rendered)
        entrypoint, args = command_args(container)
        run_args = [
            f"--network={self.network}",
            f"--hostname={name}",
            "--pull=never",
            *(f"--add-host={service}:{ip}" for service, ip in self.hosts.items()),
            *(f"--publish=127.0.0.1::{p['containerPort']}" for p in container.get("ports", [])),
            *environment_args({**self.env(workload), **(extra_env or {})}),
            *security_args(rendered, container),
            *resource_args(container),
            *volume_args(rendered, container, self.rendered, self.scratch),
            *extra_args,
            *entrypoint,
            container["image"],
            *args,
        ]
        self.podman.start(name, run_args)
        self.pods[name] = workload
        address = self.podman.ip_address(name, self.network)
        for service, backend, _ in self.backends:
            if backend == workload:
                self.hosts[service] = address
        return name

    def url(self, name: str, port: int | str) -> str:
        """The host's URL of a container's port (a number or a port's name)."""
        container = the_container(self.rendered.workload(self.pods[name]))
        host, published = self.podman.published(name, container_port(container, port))
        return f"http://{host}:{published}"

    def container(self, workload: str) -> str:
        """The name of the (first) container running the workload."""
        return next(name for name, running in self.pods.items() if running == workload)

    def probes(self, name: str) -> list[Probe]:
        return probes(the_container(self.rendered.workload(self.pods[name])))

    def check(self, name: str, probe: Probe) -> str | None:
        """None when the probe passes, else why not. Timeouts are the probe's own plus room
        for a loaded machine: what is checked is that the check passes, not its speed."""
        room_s = probe.timeout_s * 3 + 10
        if probe.action == "exec":
            done = self.podman.exec(name, probe.command, timeout=room_s)
            if done.returncode == 0:
                return None
            return f"exit {done.returncode}: {done.stdout[-500:]}{done.stderr[-500:]}"
        host, port = self.podman.published(name, probe.port)
        if probe.action == "tcpSocket":
            try:
                socket.create_connection((host, port), timeout=room_s).close()
            except OSError as exc:
                return str(exc)
            return None
        try:
            answer = httpx.get(f"http://{host}:{port}{probe.path}", timeout=room_s)
        except httpx.HTTPError as exc:
            return repr(exc)
        return None if 200 <= answer.status_code < 400 else f"HTTP {answer.status_code}"

    def wait_until_passing(self, name: str, probe: Probe, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while (failure := self.check(name, probe)) is not None:
            state = self.podman.state(name)
            if not state["Running"] or time.monotonic() > deadline:
                raise AssertionError(
                    f"{probe.kind} of {name} failing ({failure}); running={state['Running']}\n"
                    f"{self.podman.logs(name)[-3000:]}"
                )
            time.sleep(1)

    def wait_for_exit(self, name: str, timeout_s: float) -> int:
        done = self.podman.run("wait", name, timeout=timeout_s)
        return int(done.stdout.strip().splitlines()[-1])

    def logs(self) -> str:
        """Every container's log, for an assertion's message."""
        return "\n".join(f"----- {name}\n{self.podman.logs(name)[-2500:]}" for name in self.pods)
