"""The kubectl and helm command lines the end-to-end suite runs against a cluster, and the
readings it takes from their JSON. Building a command and reading an answer are plain
functions, checked by tests/unit/test_e2e_support.py without a cluster."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "tasklane"
VALUES_FILE = Path(__file__).with_name("values.yaml")
IN_CLUSTER = Path(__file__).with_name("in_cluster.py")
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"


class CommandFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Cluster:
    """Where the suite runs: a namespace of a kube-context (None: the current one)."""

    namespace: str
    context: str | None = None

    def kubectl(self, *args: str) -> list[str]:
        context = ["--context", self.context] if self.context else []
        return ["kubectl", *context, "--namespace", self.namespace, *args]

    def helm(self, *args: str) -> list[str]:
        context = ["--kube-context", self.context] if self.context else []
        return ["helm", *context, "--namespace", self.namespace, *args]

    def run(
        self, argv: Sequence[str], stdin: str | None = None, timeout_s: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if done.returncode != 0:
            raise CommandFailed(f"{' '.join(argv[:6])} ...: exit {done.returncode}\n{done.stderr}")
        return done

    def get(self, *args: str) -> dict[str, Any]:
        """`kubectl get ... -o json`."""
        done = self.run(self.kubectl("get", *args, "--output", "json"))
        found: dict[str, Any] = json.loads(done.stdout)
        return found


def install_command(
    cluster: Cluster, release: str, image_registry: str, image_tag: str, timeout_s: int
) -> list[str]:
    """The README's install (`helm upgrade --install <release> helm/tasklane`) with the images
    to run and the suite's values file."""
    images = []
    if image_registry:
        images += ["--set", f"image.registry={image_registry}"]
    if image_tag:
        images += ["--set", f"image.tag={image_tag}"]
    install = ["upgrade", "--install", release, str(CHART_DIR), "--create-namespace"]
    waiting = ["--wait", "--timeout", f"{timeout_s}s"]
    return cluster.helm(*install, "--values", str(VALUES_FILE), *images, *waiting)


def release_selector(release: str, component: str | None = None) -> str:
    selector = f"{INSTANCE}={release}"
    return selector + (f",{COMPONENT}={component}" if component else "")


def pods_not_ready(pods: dict[str, Any]) -> list[str]:
    """Names of the pods that should serve and are not Ready: a pod that ran to completion
    (the `helm test` pod) or is being deleted does not count."""
    waiting = []
    for pod in pods["items"]:
        if pod["status"].get("phase") == "Succeeded" or pod["metadata"].get("deletionTimestamp"):
            continue
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        if conditions.get("Ready") != "True":
            waiting.append(pod["metadata"]["name"])
    return sorted(waiting)


def restarts(pods: dict[str, Any]) -> dict[str, int]:
    """Pod name -> restarts of its containers, for the pods that are not being deleted."""
    return {
        pod["metadata"]["name"]: sum(
            s.get("restartCount", 0) for s in pod["status"].get("containerStatuses", [])
        )
        for pod in pods["items"]
        if not pod["metadata"].get("deletionTimestamp")
    }


def ready_replicas(deployment: dict[str, Any]) -> tuple[int, int]:
    """(replicas asked for, replicas ready) of a Deployment."""
    return deployment["spec"].get("replicas", 1), deployment["status"].get("readyReplicas", 0)


def client_pod(name: str, image: str, release: str) -> dict[str, Any]:
    """A pod of the api image that only waits, for the suite to run in_cluster.py in. Locked
    down as the chart's own pods are, so a restricted namespace admits it."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {INSTANCE: f"{release}-e2e", COMPONENT: "e2e"}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "client",
                    "image": image,
                    "command": ["python", "-c", "import time; time.sleep(10**9)"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "128Mi"},
                    },
                }
            ],
        },
    }


def in_cluster_command(cluster: Cluster, pod: str, command: str) -> list[str]:
    """kubectl exec running one of in_cluster.py's commands in the client pod."""
    return cluster.kubectl(
        "exec", "--stdin", pod, "--", "python", "-c", IN_CLUSTER.read_text(), command
    )


def until(probe: Callable[[], T | None], timeout_s: float, every_s: float = 2) -> tuple[T, float]:
    """The first truthy answer of `probe` and the seconds it took; TimeoutError after
    timeout_s."""
    started = time.monotonic()
    while True:
        value = probe()
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"not met within {timeout_s} s (last {value!r})")
        time.sleep(every_s)
