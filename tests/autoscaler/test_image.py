"""The autoscaler's standalone install, as its image makes it: the member's declared
dependencies alone are enough to import every module (the shared dev environment would hide a
missing declaration). Replayed with uv from its cache: no Docker, no network. The Dockerfile
itself is checked with every service's in tests/chart/test_dockerfiles.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "tasklane_autoscaler.__main__",
    "tasklane_autoscaler.handlers",
    "tasklane_autoscaler.local",
    "tasklane_autoscaler.simulate",
    "tasklane_autoscaler.bench",
]


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
