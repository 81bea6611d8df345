"""`make images`, `make kind-up` and k8s/kind-config.yaml agree with each other and with the
chart. No Docker or cluster is needed: the Makefile is run with tools missing, and dry-run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.render import REPO_ROOT, of_kind, one, render, values_from_command

MAKEFILE = (REPO_ROOT / "Makefile").read_text()
# What a Makefile recipe needs besides the tools under test.
BASE_TOOLS = ["bash", "sh", "make", "sed", "grep", "git", "awk", "cat", "env", "uname", "tr"]


def _make_variable(name: str) -> str:
    match = re.search(rf"^{name}\s*[:?]?=\s*(\S+)", MAKEFILE, re.MULTILINE)
    assert match, name
    return match.group(1)


def _path_with(tmp_path: Path, tools: list[str]) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _make(target: str, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAKEFLAGS": ""}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["make", "--no-print-directory", target, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _helm_upgrade_values(dry_run: str) -> dict[str, Any]:
    """The values `helm upgrade --install <release> helm/tasklane ...` is given in a dry run."""
    command = next(
        line
        for line in dry_run.replace("\\\n", " ").splitlines()
        if line.startswith("helm upgrade --install") and "helm/tasklane" in line
    )
    return values_from_command(command)


class TestKindConfig:
    def test_publishes_the_api_node_port_on_loopback(self) -> None:
        config = yaml.safe_load((REPO_ROOT / "k8s" / "kind-config.yaml").read_text())
        assert config["kind"] == "Cluster"
        (mapping,) = config["nodes"][0]["extraPortMappings"]
        assert mapping["containerPort"] == int(_make_variable("KIND_NODE_PORT"))
        assert mapping["hostPort"] == int(_make_variable("KIND_API_PORT"))
        assert mapping["listenAddress"] == "127.0.0.1"
        assert config["name"] == _make_variable("KIND_CLUSTER")


class TestMakeImages:
    def test_says_docker_is_missing(self, tmp_path: Path) -> None:
        done = _make("images", path=_path_with(tmp_path, BASE_TOOLS))
        assert done.returncode != 0
        assert "the docker CLI is not installed" in done.stdout

    def test_says_the_docker_engine_is_not_answering(self, tmp_path: Path) -> None:
        # A docker CLI whose `docker info` fails, as it does when no engine answers.
        bin_dir = _path_with(tmp_path, BASE_TOOLS)
        docker = Path(bin_dir) / "docker"
        docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
        docker.chmod(0o755)
        done = _make("images", path=bin_dir)
        assert done.returncode != 0
        assert "no Docker engine answers" in done.stdout

    def test_tags_from_the_chart_app_version(self) -> None:
        done = _make("-n", "images", "IMAGE_REGISTRY=ghcr.io/acme")
        chart = yaml.safe_load((REPO_ROOT / "helm" / "tasklane" / "Chart.yaml").read_text())
        assert f'image="ghcr.io/acme/tasklane-$service:{chart["appVersion"]}' in done.stdout
        assert "for service in api worker beat autoscaler" in done.stdout


class TestMakeKindUp:
    def test_names_every_missing_tool(self, tmp_path: Path) -> None:
        done = _make("kind-up", path=_path_with(tmp_path, BASE_TOOLS))
        assert done.returncode != 0
        assert "missing: docker kind kubectl helm" in done.stdout

    def test_names_only_the_missing_tools(self, tmp_path: Path) -> None:
        bin_dir = _path_with(tmp_path, BASE_TOOLS)
        for tool in ("kind", "helm"):
            fake = Path(bin_dir) / tool
            fake.write_text("#!/bin/sh\nexit 0\n")
            fake.chmod(0o755)
        done = _make("kind-up", path=bin_dir)
        assert "missing: docker kubectl" in done.stdout

    @pytest.mark.parametrize("monitoring", ["", "1"])
    def test_installs_with_values_the_chart_accepts(self, monitoring: str) -> None:
        done = _make("-n", "kind-up", f"MONITORING={monitoring}", "IMAGE_TAG=0.1.0-abc")
        assert done.returncode == 0, done.stderr
        values = _helm_upgrade_values(done.stdout)
        assert values["image"]["tag"] == "0.1.0-abc"
        objects = render(values)  # schema and values checks pass
        service = one(objects, "Service", "demo-tasklane-api")
        assert service["spec"]["ports"][0]["nodePort"] == int(_make_variable("KIND_NODE_PORT"))
        assert bool(of_kind(objects, "ServiceMonitor")) == (monitoring == "1")
        assert "kind load docker-image --name tasklane tasklane-$service:0.1.0-abc" in done.stdout
        assert "helm test tasklane" in done.stdout
        assert "http://127.0.0.1:8080/v1/tasks/text.process" in done.stdout
        assert ("kube-prometheus-stack" in done.stdout) == (monitoring == "1")

    def test_kind_down_deletes_the_cluster(self) -> None:
        done = _make("-n", "kind-down")
        assert "kind delete cluster --name tasklane" in done.stdout
