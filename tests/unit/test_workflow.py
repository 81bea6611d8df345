"""The GitHub Actions workflow: actionlint finds nothing in it (and would find a mistake), and it
runs what the README says CI runs: `make lint test` with the image tests required, and
`make kind-up e2e`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.chart.render import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.exists() else shutil.which("actionlint")
    assert found, "actionlint comes with the dev group"
    return subprocess.run(
        [found, "-no-color", *map(str, files)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_actionlint_passes_on_every_workflow() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert files
    done = _actionlint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_would_catch_a_mistake(tmp_path: Path) -> None:
    text = (WORKFLOWS / "ci.yml").read_text()
    assert "\n  e2e:\n" in text
    broken = tmp_path / ".github" / "workflows" / "ci.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace("\n  e2e:\n", "\n  e2e:\n    needs: no-such-job\n"))
    done = _actionlint(broken)
    assert done.returncode != 0
    assert "no-such-job" in done.stdout


def _runs(job: str) -> list[str]:
    workflow = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    return [step["run"] for step in workflow["jobs"][job]["steps"] if "run" in step]


def test_runs_lint_and_test_with_the_image_tests_required() -> None:
    (command,) = [run for run in _runs("lint-and-test") if "make lint test" in run]
    assert "TASKLANE_IMAGE_TESTS=1" in command
    assert any("podman" in run for run in _runs("lint-and-test"))


def test_runs_the_end_to_end_suite_on_kind() -> None:
    assert "make kind-up e2e" in _runs("e2e")
