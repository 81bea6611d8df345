"""checkov, the infrastructure-as-code scanner, finds nothing to fail in the rendered chart.
Every finding the chart accepts on purpose is a `checkov.io/skipN` annotation with its reason
on the object itself.

checkov pins older versions of packages the services use, so it cannot share the workspace's
lock; it runs in its own environment through `uv tool run` (fetched from PyPI once, then cached).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.chart.render import COMBINATIONS, render, render_files

CHECKOV = "checkov==3.3.30"
# Switching network policies off is the user's call; the scanner rightly flags every pod then.
ALLOWED_WITHOUT_NETWORK_POLICIES = {"CKV2_K8S_6"}


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv is needed to run checkov in its own environment"
    return found


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Failed checks per combination, from one checkov run over all of them. Each combination
    is its own release (so its own labels) in its own namespace, so that checkov's cross-object
    checks (a NetworkPolicy selecting a pod) never pair objects of two different renders."""
    root = tmp_path_factory.mktemp("rendered")
    for number, (combination, values) in enumerate(sorted(COMBINATIONS.items())):
        directory = root / combination
        directory.mkdir()
        release = f"scan{number}"
        for path, text in render_files(values, name=release, namespace=release).items():
            if path.endswith(".yaml") and text.strip():
                relative = path.split("/templates/", 1)[1].replace("/", "_")
                (directory / relative).write_text(text)
    out = tmp_path_factory.mktemp("checkov")
    command = [
        *(_uv(), "tool", "run", "--from", CHECKOV, "checkov", "--directory", str(root)),
        *("--framework", "kubernetes", "--skip-download", "--compact"),
        *("--output", "json", "--output-file-path", str(out)),
    ]
    report_file = out / "results_json.json"
    base_env = {k: v for k, v in os.environ.items() if k != "UV_OFFLINE"}
    # From uv's cache when checkov was fetched before; from PyPI the first time. uv's own
    # failure (not cached offline, no network) exits 1 like checkov's failed checks do, so
    # only the report checkov writes tells a scan apart from a tool that never started.
    attempts = []
    for extra in ({"UV_OFFLINE": "1"}, {}):
        report_file.unlink(missing_ok=True)
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=600, check=False,
            env={**base_env, "LOG_LEVEL": "ERROR", **extra},
        )  # fmt: skip
        attempts.append(f"exit {done.returncode}: {done.stderr[-1500:]}")
        if done.returncode in (0, 1) and report_file.is_file():
            break
    assert report_file.is_file(), "checkov wrote no report:\n" + "\n".join(attempts)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(report_file.read_text())
    reports = report if isinstance(report, list) else [report]
    assert reports and all(r["check_type"] == "kubernetes" for r in reports)
    summary = reports[0]["summary"]
    assert summary["passed"] > 1000 and summary["parsing_errors"] == 0
    failed: dict[str, list[dict[str, Any]]] = {name: [] for name in COMBINATIONS}
    for result in reports[0]["results"]["failed_checks"]:
        combination = Path(result["file_path"]).parts[1]
        failed[combination].append(result)
    return failed


@pytest.mark.slow
class TestSecurityScan:
    @pytest.mark.parametrize(
        "combination", sorted(c for c in COMBINATIONS if c != "network-policy-off")
    )
    def test_no_failed_check(self, scan: dict[str, list[dict[str, Any]]], combination: str) -> None:
        findings = [(r["check_id"], r["resource"]) for r in scan[combination]]
        assert findings == []

    def test_without_network_policies_only_that_is_flagged(
        self, scan: dict[str, list[dict[str, Any]]]
    ) -> None:
        findings = scan["network-policy-off"]
        assert findings, "the scanner should flag pods without a NetworkPolicy"
        assert {r["check_id"] for r in findings} == ALLOWED_WITHOUT_NETWORK_POLICIES

    def test_every_skip_gives_a_reason(self) -> None:
        for obj in render():
            for key, value in obj["metadata"].get("annotations", {}).items():
                if key.startswith("checkov.io/skip"):
                    check, _, reason = value.partition("=")
                    assert check.startswith("CKV"), value
                    assert len(reason.split()) >= 6, value
