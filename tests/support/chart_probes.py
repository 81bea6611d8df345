"""The probes as the chart renders them, to be run against real processes: a test checks what
Kubernetes would check, not a copy of it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from tests.chart.render import containers, render


def _container(template: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The first container of the template's first Deployment (the first pool's, for workers)."""
    (container, *_) = containers(render(dict(values), show_only=[template])[0])
    return container


def exec_probe(template: str, probe: str, values: Mapping[str, Any]) -> list[str]:
    """The probe's command, with `python` this interpreter (the image's is on its PATH)."""
    command: list[str] = _container(template, values)[probe]["exec"]["command"]
    assert command[0] == "python", command
    return [sys.executable, *command[1:]]


def http_probe_path(template: str, probe: str) -> str:
    path: str = _container(template, {})[probe]["httpGet"]["path"]
    return path


def run_probe(command: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=dict(env), capture_output=True, text=True, timeout=60, check=False
    )
