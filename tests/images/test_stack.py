"""The images run as the chart runs them (environment, command, securityContext, limits and
volumes from the rendered release `tasklane`), each pod a container on one podman network:
Redis with its password, the API with its key required, a worker, beat and Flower."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.images.build import IMAGE_TEST
from tests.images.cluster import PodmanCluster
from tests.images.podman import Podman
from tests.images.release import (
    API,
    BEAT,
    FLOWER,
    NAMESPACE,
    REDIS,
    RELEASE,
    WORKER,
    api_client,
    api_key,
    start_release,
)
from tests.support.polling import eventually, wait_for_status

pytestmark = IMAGE_TEST


@pytest.fixture(scope="module")
def release(
    podman: Podman,
    images: dict[str, str],
    redis_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PodmanCluster]:
    with podman.session() as scoped:
        yield start_release(
            scoped,
            tmp_path_factory.mktemp("release"),
            [REDIS, API, WORKER, BEAT, FLOWER],
            f"{NAMESPACE}-images-{os.getpid()}",
        )


def test_round_trip_through_the_api_with_its_key(release: PodmanCluster) -> None:
    with api_client(release, None) as anonymous:
        refused = anonymous.post("/v1/tasks/text.process", json={"data": "hello"})
    assert refused.status_code == 401
    with api_client(release, api_key(release)) as client:
        accepted = client.post("/v1/tasks/text.process", json={"data": "hello"})
        assert accepted.status_code == 202, accepted.text
        done = wait_for_status(client, accepted.json()["id"], {"SUCCESS", "FAILURE"}, 60)
    assert done["status"] == "SUCCESS", release.logs()
    assert done["result"] == {"processed_data": "HELLO"}


def test_every_probe_of_the_chart_passes_inside_its_container(release: PodmanCluster) -> None:
    checked = []
    for name in release.pods:
        for probe in release.probes(name):
            release.wait_until_passing(name, probe)
            checked.append((release.pods[name], probe.kind))
    # The API, the worker, Flower and Redis have probes in the chart; beat may or may not.
    assert {workload for workload, _ in checked} >= {API, WORKER, FLOWER, REDIS}, checked


def test_the_helm_test_pod_passes_from_the_api_image(release: PodmanCluster) -> None:
    test_pod = f"{API}-test"
    timeout_s = float(release.env(test_pod)["TIMEOUT_S"])
    name = release.start(test_pod)
    code = release.wait_for_exit(name, timeout_s=timeout_s + 60)
    output = release.podman.logs(name)
    assert code == 0, output
    assert "result {'processed_data': 'HELLO'}" in output


def test_beat_fires_its_schedule_entry_and_a_worker_runs_it(release: PodmanCluster) -> None:
    # The rendered schedule fires cleanup-submitted-index every 2 s on the maintenance queue.
    beat, worker = release.container(BEAT), release.container(WORKER)
    eventually(lambda: "cleanup-submitted-index" in release.podman.logs(beat), timeout_s=60)
    eventually(
        lambda: any(
            "maintenance.cleanup" in line and "succeeded" in line
            for line in release.podman.logs(worker).splitlines()
        ),
        timeout_s=60,
    )


def test_flower_asks_for_the_login_of_its_secret(release: PodmanCluster) -> None:
    login = release.env(FLOWER)["FLOWER_BASIC_AUTH"]
    user, _, password = login.partition(":")
    url = release.url(release.container(FLOWER), "http")
    assert httpx.get(f"{url}/workers", timeout=10).status_code == 401
    assert httpx.get(f"{url}/workers", auth=(user, password), timeout=10).status_code == 200


CONFINEMENT = """
import os, sys
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines())
try:
    open("/written-to-root", "w")
    writable_root = True
except OSError:
    writable_root = False
with open("/proc/1/cmdline", "rb") as cmdline:
    first = cmdline.read().split(b"\\0")
print(os.getuid(), os.getgid(), 10001 in os.getgroups(), status["CapEff"].strip(),
      status["NoNewPrivs"].strip(), writable_root, first[1:3] == [b"-m", sys.argv[1].encode()])
"""


@pytest.mark.parametrize("workload", [API, WORKER, BEAT, FLOWER])
def test_runs_confined_as_the_chart_says(release: PodmanCluster, workload: str) -> None:
    name = release.container(workload)
    module = "tasklane_" + workload.removeprefix(f"{RELEASE}-").split("-")[0]
    done = release.podman.exec(name, ["python", "-c", CONFINEMENT, module])
    assert done.returncode == 0, done.stderr
    # UID and GID 10001 with fsGroup, no capabilities, no privilege escalation, a read-only
    # root, and the service's python as PID 1 (so it gets the SIGTERM).
    assert done.stdout.split() == [
        "10001",
        "10001",
        "True",
        "0000000000000000",
        "1",
        "False",
        "True",
    ]
