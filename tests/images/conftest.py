"""The images built with podman and run as the chart runs them.

These tests need podman. Without it they are skipped, unless TASKLANE_IMAGE_TESTS=1 (which
.ci/run sets, having installed podman) says they must run: then a missing podman fails them.
Timings of each step and the image sizes are printed at the end of the run."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.images import standins
from tests.images.build import image_name, make_image, trust_mounts
from tests.images.chart_pods import the_container
from tests.images.podman import Podman, store_config
from tests.images.release import RELEASE, rendered_release
from tests.images.report import record, write_summary
from tests.support.makefile import image_services

REQUIRED = os.environ.get("TASKLANE_IMAGE_TESTS") == "1"


def _store_dirs() -> tuple[Path, Path]:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    run = Path(tempfile.gettempdir()) / f"tasklane-image-tests-{os.getuid()}"
    return cache / "tasklane" / "image-tests", run


@pytest.fixture(scope="session")
def podman() -> Podman:
    binary = shutil.which("podman")
    if binary is None:
        message = "podman is not installed (apt-get install podman runc debootstrap)"
        if REQUIRED:
            pytest.fail(f"TASKLANE_IMAGE_TESTS=1 and {message}: the image tests must run")
        pytest.skip(f"{message}; with TASKLANE_IMAGE_TESTS=1 this fails instead")
    if os.geteuid() != 0:
        # Rootful podman: its bridge network is where the host's test servers (KMock) and the
        # containers meet, and debootstrap needs root too.
        message = "the image tests run podman as root"
        if REQUIRED:
            pytest.fail(f"TASKLANE_IMAGE_TESTS=1 and not root: {message}")
        pytest.skip(f"{message}; with TASKLANE_IMAGE_TESTS=1 this fails instead")
    podman = Podman(binary, store_config(*_store_dirs()))
    info = podman.run("info", check=False)
    if info.returncode != 0:
        pytest.fail(f"podman is installed but does not work here:\n{info.stderr[-2000:]}")
    return podman


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="session")
def python_base(podman: Podman, scratch: Path) -> str:
    name, started = standins.python_base(), time.monotonic()
    origin = standins.ensure(podman, name, lambda: standins.make_python_base(podman, name, scratch))
    record(f"python base {name} ({origin})", started)
    return name


@pytest.fixture(scope="session")
def images(podman: Podman, python_base: str, scratch: Path) -> dict[str, str]:
    """service -> image, each built by `make images` with podman (bases never pulled)."""
    uv, started = standins.uv_image(), time.monotonic()
    origin = standins.ensure(podman, uv, lambda: standins.make_uv_image(podman, uv, scratch))
    record(f"uv image {uv} ({origin})", started)
    flags = ["--pull=never", *trust_mounts(scratch)]
    built = {}
    for service in image_services():
        started = time.monotonic()
        make_image(podman, service, flags)
        record(f"build tasklane-{service}", started)
        built[service] = image_name(service)
    # Layers the store keeps for the next run's cache, but none a day old.
    podman.run("image", "prune", "--force", "--filter=until=24h")
    return built


@pytest.fixture(scope="session")
def redis_image(podman: Podman, python_base: str, scratch: Path) -> str:
    """The chart's Redis image, or a stand-in of it."""
    redis: str = the_container(rendered_release().workload(f"{RELEASE}-redis"))["image"]
    name, started = standins.qualified(redis), time.monotonic()
    origin = standins.ensure(
        podman, name, lambda: standins.make_redis_image(podman, name, python_base, scratch)
    )
    record(f"redis image {name} ({origin})", started)
    return redis


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    started = time.monotonic()
    try:
        return (yield)
    finally:
        if item.get_closest_marker("images"):
            record(item.name, started)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    write_summary(terminalreporter)
