"""How a rendered pod becomes `podman run` arguments (no podman needed): what the image tests
rely on to run the images as the chart says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.images.chart_pods import (
    Probe,
    Rendered,
    command_args,
    container_env,
    expand,
    probes,
    quantity,
    resource_args,
    security_args,
    service_backends,
    the_container,
    through_services,
    volume_args,
)
from tests.images.release import API, REDIS, RELEASE, WORKER, rendered_release


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    return rendered_release()


def test_env_resolves_config_maps_secrets_and_references(rendered: Rendered) -> None:
    password = rendered.secret_data(f"{RELEASE}-redis")["password"]
    exporter = container_env(the_container(rendered.workload(f"{RELEASE}-exporter")), rendered)
    assert exporter["TASKLANE_REDIS_PASSWORD"] == password
    assert exporter["CE_BROKER_URL"] == f"redis://:{password}@{RELEASE}-redis:6379/0"
    api = container_env(the_container(rendered.workload(API)), rendered)
    assert api["TASKLANE_REDIS_URL"] == f"redis://{RELEASE}-redis:6379/0"  # from the ConfigMap
    assert api["TASKLANE_API_KEYS"] == rendered.secret_data(f"{RELEASE}-api-keys")["api-keys"]
    assert api["TASKLANE_API_PORT"] == "8000"


def test_reference_expansion_follows_kubernetes() -> None:
    env = {"A": "1"}
    assert expand("x$(A)y$(B)z$$(A)", env) == "x1y$(B)z$(A)"


def test_an_env_source_the_harness_does_not_know_fails() -> None:
    container = {"env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]}
    with pytest.raises(ValueError, match="POD"):
        container_env(container, Rendered([]))


def test_security_context_becomes_podman_options(rendered: Rendered) -> None:
    api = rendered.workload(API)
    assert security_args(api, the_container(api)) == [
        "--user=10001:10001",
        "--group-add=10001",
        "--read-only",
        "--read-only-tmpfs=false",
        "--security-opt=no-new-privileges",
        "--cap-drop=ALL",
    ]


def test_an_unknown_security_setting_fails(rendered: Rendered) -> None:
    api = rendered.workload(API)
    container = {**the_container(api), "securityContext": {"procMount": "Unmasked"}}
    with pytest.raises(ValueError, match="procMount"):
        security_args(api, container)


def test_quantities_and_limits() -> None:
    assert quantity("500m") == 0.5
    assert quantity("256Mi") == 256 * 2**20
    assert quantity(2) == 2
    container = {"resources": {"limits": {"cpu": "250m", "memory": "1Gi"}}}
    assert resource_args(container) == [f"--memory={2**30}", "--cpus=0.25"]


def test_volumes_mount_config_and_scratch_space(rendered: Rendered, tmp_path: Path) -> None:
    redis = rendered.workload(REDIS)
    args = volume_args(redis, the_container(redis), rendered, tmp_path)
    config = tmp_path / f"{REDIS}-config"
    assert args == [
        "--mount=type=tmpfs,destination=/data,tmpfs-mode=1777",
        f"--volume={config}:/etc/redis:ro",
        f"--mount=type=tmpfs,destination=/tmp,tmpfs-mode=1777,tmpfs-size={64 * 2**20}",
    ]
    conf = rendered.config_map_data(f"{RELEASE}-redis")["redis.conf"]
    assert (config / "redis.conf").read_text() == conf


def test_probes_come_from_the_render_with_named_ports(rendered: Rendered) -> None:
    found = probes(the_container(rendered.workload(API)))
    assert {(p.action, p.port) for p in found} == {("httpGet", 8000)}
    worker = probes(the_container(rendered.workload(WORKER)))
    assert worker and all(p.action == "exec" and p.command[0] == "python" for p in worker)
    assert all(isinstance(p, Probe) and p.timeout_s > 0 for p in found + worker)


def test_services_map_to_the_pods_behind_them(rendered: Rendered) -> None:
    backends = {service: (pod, ports) for service, pod, ports in service_backends(rendered)}
    assert backends[f"{RELEASE}-api"] == (API, {80: 8000})
    assert backends[f"{RELEASE}-redis"] == (REDIS, {6379: 6379})
    ports = {service: mapping for service, (_, mapping) in backends.items()}
    assert through_services("http://tasklane-api:80", ports) == "http://tasklane-api:8000"
    assert through_services("http://tasklane-api:8080/x", ports) == "http://tasklane-api:8080/x"
    assert through_services("http://my-tasklane-api:80", ports) == "http://my-tasklane-api:80"


def test_command_replaces_the_entrypoint_and_args_follow_the_image(rendered: Rendered) -> None:
    test_pod = the_container(rendered.workload(f"{API}-test"))
    entrypoint, args = command_args(test_pod)
    assert entrypoint == ['--entrypoint=["python", "-c"]']
    assert args == [test_pod["args"][0]]
    assert command_args(the_container(rendered.workload(API))) == ([], [])
