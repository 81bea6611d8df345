"""`make images`, `make kind-up` and k8s/kind-config.yaml agree with each other and with the
chart. No Docker or cluster is needed: the Makefile is run with tools missing, and dry-run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.render import REPO_ROOT, of_kind, one, render, values_from_command
from tests.support.makefile import image_services, make_variable

# What a Makefile recipe needs besides the tools under test.
BASE_TOOLS = ["bash", "sh", "make", "sed", "grep", "git", "awk", "cat", "env", "uname", "tr"]


def _make_variable(name: str) -> str:
    return make_variable(name)[0]


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


def _fake(bin_dir: str, tool: str, body: str = "exit 0") -> None:
    fake = Path(bin_dir) / tool
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)


def _recording(bin_dir: str, log: Path, *tools: str) -> None:
    """Tools that log each call (with the kind provider they were given) and succeed."""
    for tool in tools:
        _fake(bin_dir, tool, f'echo "${{KIND_EXPERIMENTAL_PROVIDER:-}}|{tool} $*" >> {log}')


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


class TestMakeImages:
    def test_says_no_engine_is_installed(self, tmp_path: Path) -> None:
        done = _make("images", path=_path_with(tmp_path, BASE_TOOLS))
        assert done.returncode != 0
        assert "neither docker nor podman is installed" in done.stdout

    def test_says_the_docker_engine_is_not_answering(self, tmp_path: Path) -> None:
        # A docker CLI whose `docker info` fails, as it does when no engine answers.
        bin_dir = _path_with(tmp_path, BASE_TOOLS)
        _fake(bin_dir, "docker", "echo 'Cannot connect to the Docker daemon' >&2; exit 1")
        done = _make("images", path=bin_dir)
        assert done.returncode != 0
        assert "no Docker engine answers" in done.stdout
        assert "or install podman" in done.stdout

    def test_builds_with_podman_when_no_docker_engine_answers(self, tmp_path: Path) -> None:
        bin_dir, log = _path_with(tmp_path, BASE_TOOLS), tmp_path / "calls"
        _fake(bin_dir, "docker", "exit 1")
        _recording(bin_dir, log, "podman")
        done = _make("images", "IMAGE_TAG=1.0-abc", path=bin_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        builds = [c.split("|", 1)[1] for c in _calls(log) if "podman build" in c]
        assert len(builds) == len(image_services())
        api = builds[0]
        assert api.startswith("podman build --file services/Dockerfile --build-arg SERVICE=api ")
        assert "--build-arg DESCRIPTION=tasklane's HTTP API: accepts tasks" in api
        assert api.endswith("--tag tasklane-api:1.0-abc .")

    def test_prefers_a_docker_engine_that_answers(self, tmp_path: Path) -> None:
        bin_dir, log = _path_with(tmp_path, BASE_TOOLS), tmp_path / "calls"
        _recording(bin_dir, log, "docker", "podman")
        done = _make("images", path=bin_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        assert any(c.startswith("|docker build") for c in _calls(log))
        assert not any("podman" in c for c in _calls(log))

    def test_container_engine_chooses(self, tmp_path: Path) -> None:
        bin_dir, log = _path_with(tmp_path, BASE_TOOLS), tmp_path / "calls"
        _recording(bin_dir, log, "docker", "podman")
        chosen = ["CONTAINER_ENGINE=podman", "IMAGE_BUILD_FLAGS=--pull=never"]
        done = _make("images", *chosen, path=bin_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        builds = [c for c in _calls(log) if " build " in c]
        assert builds and all(c.startswith("|podman build") for c in builds)
        assert all("--pull=never --tag" in c for c in builds)

    def test_says_the_chosen_engine_is_missing(self, tmp_path: Path) -> None:
        bin_dir = _path_with(tmp_path, BASE_TOOLS)
        _fake(bin_dir, "docker")
        done = _make("images", "CONTAINER_ENGINE=podman", path=bin_dir)
        assert done.returncode != 0
        assert "CONTAINER_ENGINE=podman is not installed" in done.stdout

    def test_tags_from_the_chart_app_version(self) -> None:
        done = _make("-n", "images", "IMAGE_REGISTRY=ghcr.io/acme", "CONTAINER_ENGINE=docker")
        chart = yaml.safe_load((REPO_ROOT / "helm" / "tasklane" / "Chart.yaml").read_text())
        assert f'image="ghcr.io/acme/tasklane-$service:{chart["appVersion"]}' in done.stdout
        assert "for service in api worker beat autoscaler" in done.stdout


class TestMakeKindUp:
    def test_names_every_missing_tool(self, tmp_path: Path) -> None:
        done = _make("kind-up", path=_path_with(tmp_path, BASE_TOOLS))
        assert done.returncode != 0
        assert "missing: kind kubectl helm" in done.stdout

    def test_names_only_the_missing_tools(self, tmp_path: Path) -> None:
        bin_dir = _path_with(tmp_path, BASE_TOOLS)
        for tool in ("kind", "helm"):
            _fake(bin_dir, tool)
        done = _make("kind-up", path=bin_dir)
        assert "missing: kubectl" in done.stdout

    def test_says_no_engine_is_installed(self, tmp_path: Path) -> None:
        bin_dir = _path_with(tmp_path, BASE_TOOLS)
        for tool in ("kind", "kubectl", "helm"):
            _fake(bin_dir, tool)
        done = _make("kind-up", path=bin_dir)
        assert done.returncode != 0
        assert "neither docker nor podman is installed" in done.stdout

    def test_runs_kind_on_podman_without_docker(self, tmp_path: Path) -> None:
        bin_dir, log = _path_with(tmp_path, BASE_TOOLS), tmp_path / "calls"
        _recording(bin_dir, log, "podman", "kind", "kubectl", "helm")
        done = _make("kind-up", "IMAGE_TAG=1.0-abc", path=bin_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        calls = _calls(log)
        kind_calls = [c for c in calls if "|kind " in c]
        assert kind_calls and all(c.startswith("podman|kind ") for c in kind_calls)
        create = "podman|kind create cluster --name tasklane --config k8s/kind-config.yaml"
        assert any(c.startswith(create) for c in calls)
        saves = [c for c in calls if c.startswith("|podman save")]
        loads = [c for c in calls if "kind load image-archive --name tasklane" in c]
        assert len(saves) == len(loads) == len(image_services())
        assert saves[0].endswith(" localhost/tasklane-api:1.0-abc")
        assert any(" build " in c and "--tag localhost/tasklane-api:1.0-abc" in c for c in calls)
        install = next(c for c in calls if "|helm upgrade --install tasklane" in c)
        assert "--set image.registry=localhost --set image.tag=1.0-abc" in install

    @pytest.mark.parametrize("monitoring", ["", "1"])
    def test_installs_with_values_the_chart_accepts(self, monitoring: str) -> None:
        options = [f"MONITORING={monitoring}", "IMAGE_TAG=0.1.0-abc", "CONTAINER_ENGINE=docker"]
        done = _make("-n", "kind-up", *options)
        assert done.returncode == 0, done.stderr
        values = _helm_upgrade_values(done.stdout)
        assert values["image"] == {"registry": "localhost", "tag": "0.1.0-abc"}
        objects = render(values)  # schema and values checks pass
        service = one(objects, "Service", "demo-tasklane-api")
        assert service["spec"]["ports"][0]["nodePort"] == int(_make_variable("KIND_NODE_PORT"))
        assert bool(of_kind(objects, "ServiceMonitor")) == (monitoring == "1")
        assert "docker save" in done.stdout
        assert "localhost/tasklane-$service:0.1.0-abc" in done.stdout
        assert "kind load image-archive --name tasklane" in done.stdout
        assert "helm test tasklane" in done.stdout
        assert "http://127.0.0.1:8080/v1/tasks/text.process" in done.stdout
        assert ("kube-prometheus-stack" in done.stdout) == (monitoring == "1")

    def test_kind_down_deletes_the_cluster(self) -> None:
        done = _make("-n", "kind-down")
        assert "kind delete cluster --name tasklane" in done.stdout
