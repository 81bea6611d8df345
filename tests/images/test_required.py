"""Without podman the image tests are skipped, except where TASKLANE_IMAGE_TESTS=1 (CI) says
they must run: there they fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chart.render import REPO_ROOT

ONE_IMAGE_TEST = (
    "tests/images/test_contents.py::TestImage::test_is_labelled_and_runs_as_the_chart_expects[api]"
)


def _pytest_without_podman(tmp_path: Path, required: str) -> subprocess.CompletedProcess[str]:
    no_tools = tmp_path / "bin"
    no_tools.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", ONE_IMAGE_TEST],
        cwd=REPO_ROOT,
        env={**os.environ, "PATH": str(no_tools), "TASKLANE_IMAGE_TESTS": required},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_a_missing_podman_fails_where_required_and_skips_elsewhere(tmp_path: Path) -> None:
    required = _pytest_without_podman(tmp_path, "1")
    assert required.returncode == 1, required.stdout
    assert "TASKLANE_IMAGE_TESTS=1 and podman is not installed" in required.stdout
    optional = _pytest_without_podman(tmp_path, "")
    assert optional.returncode == 0, optional.stdout
    assert "1 skipped" in optional.stdout
