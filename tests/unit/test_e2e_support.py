"""What of the end-to-end suite can be checked without a cluster: it stays out of `make test`,
its install command gives the chart values it accepts and the tests rely on, its kubectl and
helm command lines, its readings of pod JSON, and the client pod it creates."""

from __future__ import annotations

import shlex
import subprocess
import sys
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.chart.render import (
    KUBE_VERSION,
    REPO_ROOT,
    of_kind,
    one,
    pod_spec,
    render,
    values_from_command,
)
from tests.e2e.kube import (
    CHART_DIR,
    VALUES_FILE,
    Cluster,
    client_pod,
    install_command,
    pods_not_ready,
    ready_replicas,
    restarts,
)

CLUSTER = Cluster(namespace="tasklane-e2e", context="kind-tasklane")


def collected(*args: str) -> str:
    """What `pytest --collect-only` lists with these arguments (it must succeed)."""
    collect = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*collect, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_bare_pytest_leaves_the_suite_out_and_naming_it_collects_it() -> None:
    everything = collected()
    assert "tests/unit/test_e2e_support.py" in everything
    assert "tests/e2e/" not in everything
    assert "tests/e2e/test_release.py::test_helm_test_passes" in collected("tests/e2e")


@pytest.mark.slow
def test_make_e2e_passes_options_the_suite_knows() -> None:
    make = ["make", "--no-print-directory", "-n", "e2e"]
    dry_run = subprocess.run(
        [*make, "E2E_IMAGE_TAG=1.0-abc", "E2E_CONTEXT=kind-x"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.replace("\\\n", " ")
    line = next(line for line in dry_run.splitlines() if "pytest tests/e2e" in line)
    options = shlex.split(line.split("pytest", 1)[1])
    assert options[:1] == ["tests/e2e"]
    assert "--e2e-image-registry=localhost" in options
    assert "--e2e-image-tag=1.0-abc" in options
    assert "--e2e-context=kind-x" in options
    # pytest refuses an option nobody declared: collecting with them shows they are the suite's.
    assert "tests/e2e/test_release.py" in collected(*options)


def _install_values(command: list[str]) -> dict[str, Any]:
    """The values the install gives the chart: its values file, then its --set flags."""
    values = yaml.safe_load(VALUES_FILE.read_text())
    sets = values_from_command(" ".join(command))
    return {**values, **sets}


def test_install_is_the_readme_command_with_values_the_chart_accepts() -> None:
    command = install_command(CLUSTER, "tasklane", "localhost", "0.1.0-abc", timeout_s=600)
    assert command[:9] == [
        "helm",
        "--kube-context",
        "kind-tasklane",
        "--namespace",
        "tasklane-e2e",
        "upgrade",
        "--install",
        "tasklane",
        str(CHART_DIR),
    ]
    assert command[-3:] == ["--wait", "--timeout", "600s"]
    assert command[command.index("--values") + 1] == str(VALUES_FILE)
    objects = render(_install_values(command), name="tasklane", namespace="tasklane-e2e")
    api = one(objects, "Deployment", "tasklane-api")
    assert pod_spec(api)["containers"][0]["image"] == "localhost/tasklane-api:0.1.0-abc"
    # What the tests take for granted: the general pool is kubectl's, the reports pool the
    # operator's, and a lost worker's tasks come back well within the suite's bounds.
    general = one(objects, "Deployment", "tasklane-worker-general")
    assert general["spec"]["replicas"] == 1
    autoscaler = one(objects, "WorkerAutoscaler", "tasklane-worker-reports")
    assert autoscaler["spec"]["maxReplicas"] > autoscaler["spec"]["minReplicas"]
    assert [a["metadata"]["name"] for a in of_kind(objects, "WorkerAutoscaler")] == [
        "tasklane-worker-reports"
    ]
    config = one(objects, "ConfigMap", "tasklane-config")["data"]
    # Tasks come back on the worker's lease, the visibility timeout staying at its hour.
    assert int(config["TASKLANE_WORKER_LEASE_S"]) <= 30
    assert int(config["TASKLANE_VISIBILITY_TIMEOUT_S"]) == 3600


def test_an_install_without_image_settings_leaves_the_chart_defaults() -> None:
    command = install_command(Cluster("ns"), "tasklane", "", "", timeout_s=60)
    assert "--set" not in command
    assert command[:3] == ["helm", "--namespace", "ns"]


def test_kubectl_commands_carry_the_context_and_namespace() -> None:
    assert CLUSTER.kubectl("get", "pods") == [
        "kubectl",
        "--context",
        "kind-tasklane",
        "--namespace",
        "tasklane-e2e",
        "get",
        "pods",
    ]
    assert Cluster("ns").kubectl("scale") == ["kubectl", "--namespace", "ns", "scale"]


def _pod(name: str, phase: str, ready: str, *, deleting: bool = False, restarts: int = 0) -> Any:
    metadata: dict[str, Any] = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": metadata,
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": ready}],
            "containerStatuses": [{"restartCount": restarts}],
        },
    }


def test_readiness_and_restarts_are_read_from_pod_json() -> None:
    pods = {
        "items": [
            _pod("api-1", "Running", "True", restarts=2),
            _pod("worker-1", "Running", "False"),
            _pod("pending-1", "Pending", "False"),
            _pod("api-test", "Succeeded", "False"),
            _pod("old-worker", "Running", "True", deleting=True),
        ]
    }
    assert pods_not_ready(pods) == ["pending-1", "worker-1"]
    assert restarts(pods) == {"api-1": 2, "worker-1": 0, "pending-1": 0, "api-test": 0}
    assert ready_replicas({"spec": {"replicas": 3}, "status": {}}) == (3, 0)


def test_the_client_pod_is_valid_and_locked_down() -> None:
    pod = client_pod("tasklane-e2e-client", "localhost/tasklane-api:1", "tasklane")
    kubernetes_validate.validate(pod, KUBE_VERSION, strict=True)
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    # Not one of the release's pods: its readiness and restarts are not the release's.
    assert pod["metadata"]["labels"]["app.kubernetes.io/instance"] != "tasklane"
