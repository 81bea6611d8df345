"""No pod of the chart can be broken by Kubernetes' service-link variables.

Kubernetes gives every pod `<SERVICE>_PORT=tcp://<ip>:<port>` and friends for every Service in
the namespace. With the README's release name `tasklane` the chart's Services are
`tasklane-api`, `tasklane-exporter`, ..., whose variables start with the settings' prefix
`TASKLANE_`. These tests render with that release name and feed each tasklane container the
variables Kubernetes would inject (as if service links were on) on top of its own environment.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
from collections.abc import Iterator

import pytest

from tasklane_autoscaler.config import AutoscalerSettings
from tasklane_contract.settings import Settings
from tests.chart.render import COMBINATIONS, Obj, containers, of_kind, pod_spec, render, workloads

README_RELEASE = "tasklane"
SECRET_VALUE = "s3cret-from-a-secret"


def service_link_env(services: list[Obj]) -> dict[str, str]:
    """The variables the kubelet derives from Services (its envvars rules): headless Services
    give none; every other gives the `_SERVICE_*` pair and the Docker-link `_PORT*` family."""
    addresses = (str(ipaddress.ip_address("10.96.0.10") + n) for n in itertools.count())
    env: dict[str, str] = {}
    for service in services:
        if service["spec"].get("clusterIP") == "None":
            continue
        ip = next(addresses)
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        ports = service["spec"]["ports"]
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        first = ports[0]
        env[f"{prefix}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}"
        for port in ports:
            protocol = port.get("protocol", "TCP")
            if "name" in port:
                named = port["name"].upper().replace("-", "_")
                env[f"{prefix}_SERVICE_PORT_{named}"] = str(port["port"])
            link = f"{prefix}_PORT_{port['port']}_{protocol}"
            env[link] = f"{protocol.lower()}://{ip}:{port['port']}"
            env[f"{link}_PROTO"] = protocol.lower()
            env[f"{link}_PORT"] = str(port["port"])
            env[f"{link}_ADDR"] = ip
    return env


def container_env(container: Obj, config_maps: dict[str, dict[str, str]]) -> dict[str, str]:
    """What the container's own env and envFrom give it (Secrets read as SECRET_VALUE; the
    user's own Secrets and ConfigMaps of extraEnvFrom, unknown here, as nothing)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps.get(source.get("configMapRef", {}).get("name", ""), {}))
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value", SECRET_VALUE)
    return env


def tasklane_containers(objects: list[Obj]) -> Iterator[tuple[str, Obj]]:
    for workload in workloads(objects):
        for container in containers(workload):
            if container["image"].split("/")[-1].startswith("tasklane-"):
                yield workload["metadata"]["name"], container


@pytest.mark.parametrize("combination", sorted(COMBINATIONS))
class TestWithTheReadmeReleaseName:
    def test_every_pod_has_service_links_off(self, combination: str) -> None:
        objects = render(COMBINATIONS[combination], name=README_RELEASE, namespace="tasklane")
        for workload in workloads(objects):
            assert pod_spec(workload).get("enableServiceLinks") is False, workload["metadata"]

    def test_settings_hold_with_every_service_link_injected(
        self, combination: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        objects = render(COMBINATIONS[combination], name=README_RELEASE, namespace="tasklane")
        links = service_link_env(of_kind(objects, "Service"))
        # The Services that made the crash: their links carry the settings' own names.
        assert "TASKLANE_API_PORT" in links
        config_maps = {
            c["metadata"]["name"]: c.get("data", {}) for c in of_kind(objects, "ConfigMap")
        }
        checked = 0
        for workload, container in tasklane_containers(objects):
            own = container_env(container, config_maps)
            for name in [n for n in os.environ if n.startswith("TASKLANE_")]:
                monkeypatch.delenv(name)
            # A container's own env wins over a service link of the same name, as in Kubernetes.
            for name, value in {**links, **own}.items():
                monkeypatch.setenv(name, value)
            settings = Settings()
            assert settings.api_port == int(own.get("TASKLANE_API_PORT", 8000)), workload
            assert settings.exporter_port == 9808, workload
            if workload.endswith("-autoscaler"):
                autoscaler = AutoscalerSettings()
                metrics_port = own.get("TASKLANE_AUTOSCALER_METRICS_PORT", 9808)
                assert autoscaler.metrics_port == int(metrics_port)
            checked += 1
        assert checked >= 3


def test_the_link_variables_follow_kubernetes_naming() -> None:
    services = [
        {
            "metadata": {"name": "tasklane-api"},
            "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
        },
        {
            "metadata": {"name": "tasklane-redis-headless"},
            "spec": {"clusterIP": "None", "ports": []},
        },
    ]
    assert service_link_env(services) == {
        "TASKLANE_API_SERVICE_HOST": "10.96.0.10",
        "TASKLANE_API_SERVICE_PORT": "80",
        "TASKLANE_API_SERVICE_PORT_HTTP": "80",
        "TASKLANE_API_PORT": "tcp://10.96.0.10:80",
        "TASKLANE_API_PORT_80_TCP": "tcp://10.96.0.10:80",
        "TASKLANE_API_PORT_80_TCP_PROTO": "tcp",
        "TASKLANE_API_PORT_80_TCP_PORT": "80",
        "TASKLANE_API_PORT_80_TCP_ADDR": "10.96.0.10",
    }
