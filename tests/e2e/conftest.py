"""`make e2e`: the chart installed on the current kube-context (after `make kind-up`, or any
cluster) with the README's release name, and driven with kubectl and helm. Never part of
`make test`: tests/conftest.py collects this directory only when it is named.

Options: --e2e-context (default: the current context), --e2e-namespace (tasklane-e2e),
--e2e-image-registry and --e2e-image-tag (the images to run; `make e2e` passes kind-up's),
--e2e-keep (leave the release installed; it is removed after a run without failures)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.deployed import Deployed
from tests.e2e.kube import Cluster, install_command

RELEASE = "tasklane"
INSTALL_TIMEOUT_S = 600
# What the suite measured, printed at the end of the run.
FIGURES: list[tuple[str, float]] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("e2e", "tasklane end-to-end suite")
    group.addoption("--e2e-context", default=None, help="kube-context (default: current)")
    group.addoption("--e2e-namespace", default="tasklane-e2e", help="namespace to install in")
    group.addoption("--e2e-image-registry", default="", help="image.registry of the release")
    group.addoption("--e2e-image-tag", default="", help="image.tag of the release")
    group.addoption("--e2e-keep", action="store_true", help="leave the release installed")


def figure(name: str, seconds: float) -> None:
    FIGURES.append((name, seconds))


@pytest.fixture(scope="session")
def cluster(pytestconfig: pytest.Config) -> Cluster:
    missing = [tool for tool in ("kubectl", "helm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the end-to-end suite needs {' and '.join(missing)} on PATH")
    cluster = Cluster(
        namespace=pytestconfig.getoption("--e2e-namespace"),
        context=pytestconfig.getoption("--e2e-context"),
    )
    cluster.run(cluster.kubectl("get", "--raw", "/readyz"), timeout_s=30)
    return cluster


@pytest.fixture(scope="session")
def deployed(
    cluster: Cluster, pytestconfig: pytest.Config, request: pytest.FixtureRequest
) -> Iterator[Deployed]:
    started = time.monotonic()
    command = install_command(
        cluster,
        RELEASE,
        image_registry=pytestconfig.getoption("--e2e-image-registry"),
        image_tag=pytestconfig.getoption("--e2e-image-tag"),
        timeout_s=INSTALL_TIMEOUT_S,
    )
    cluster.run(command, timeout_s=INSTALL_TIMEOUT_S + 60)
    figure("helm upgrade --install --wait", time.monotonic() - started)
    release = Deployed(cluster, RELEASE)
    release.start_client()
    yield release
    release.stop_client()
    if request.session.testsfailed == 0 and not pytestconfig.getoption("--e2e-keep"):
        cluster.run(cluster.helm("uninstall", RELEASE, "--wait"), timeout_s=300)
        cluster.run(cluster.kubectl("delete", "namespace", cluster.namespace, "--wait=false"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("e2e: figures")
        for name, seconds in FIGURES:
            terminalreporter.write_line(f"{seconds:8.1f} s  {name}")
