"""The release the end-to-end suite installed, and what it asks of it: its pods, its API key,
and requests through its API Service from the client pod (in_cluster.py)."""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from typing import Any

from tests.e2e.kube import (
    Cluster,
    client_pod,
    in_cluster_command,
    pods_not_ready,
    ready_replicas,
    release_selector,
    until,
)

CLIENT_READY_S = 180


@dataclass(frozen=True)
class Deployed:
    cluster: Cluster
    release: str

    @property
    def client(self) -> str:
        return f"{self.release}-e2e-client"

    def pods(self, component: str | None = None) -> dict[str, Any]:
        return self.cluster.get("pods", "--selector", release_selector(self.release, component))

    def replicas(self, deployment: str) -> tuple[int, int]:
        return ready_replicas(self.cluster.get("deployment", deployment))

    def api_key(self) -> str:
        secret = self.cluster.get("secret", f"{self.release}-api-keys")
        keys = base64.b64decode(secret["data"]["api-keys"]).decode()
        return keys.split(",")[0].strip()

    def api_url(self) -> str:
        """The API Service as a pod of the namespace reaches it."""
        service = self.cluster.get("service", f"{self.release}-api")
        return f"http://{self.release}-api:{service['spec']['ports'][0]['port']}"

    def start_client(self) -> None:
        """The client pod, of the image the release's API runs."""
        api = self.cluster.get("deployment", f"{self.release}-api")
        image = api["spec"]["template"]["spec"]["containers"][0]["image"]
        manifest = json.dumps(client_pod(self.client, image, self.release))
        self.cluster.run(self.cluster.kubectl("apply", "--filename", "-"), stdin=manifest)

        def ready() -> bool:
            pod = self.cluster.get("pod", self.client)
            return not pods_not_ready({"items": [pod]})

        until(ready, CLIENT_READY_S)

    def stop_client(self) -> None:
        self.cluster.run(
            self.cluster.kubectl("delete", "pod", self.client, "--ignore-not-found", "--wait=false")
        )

    def _request(self, request: dict[str, Any]) -> str:
        return json.dumps({"api": self.api_url(), "key": self.api_key(), **request})

    def in_cluster(
        self, command: str, request: dict[str, Any], timeout_s: float = 900
    ) -> dict[str, Any]:
        """Runs in_cluster.py's `command` in the client pod and returns its answer."""
        argv = in_cluster_command(self.cluster, self.client, command)
        done = self.cluster.run(argv, stdin=self._request(request), timeout_s=timeout_s)
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def start_in_cluster(self, command: str, request: dict[str, Any]) -> subprocess.Popen[str]:
        """The same, left running while the test does something else."""
        argv = in_cluster_command(self.cluster, self.client, command)
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdin is not None
        process.stdin.write(self._request(request))
        process.stdin.close()
        return process

    @staticmethod
    def finish(process: subprocess.Popen[str], timeout_s: float = 900) -> dict[str, Any]:
        assert process.stdout is not None and process.stderr is not None
        out, err = process.stdout.read(), process.stderr.read()
        if process.wait(timeout=timeout_s) != 0:
            raise RuntimeError(f"in-cluster client failed: {err}")
        answer: dict[str, Any] = json.loads(out)
        return answer
