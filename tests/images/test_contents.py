"""What each image holds: the service's locked runtime dependencies and nothing of the build
(no uv, no test or dev tools, no sources, tests or `.git`), labelled as `make images` says,
within 70 MB of its base."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.chart.render import CHART_DIR, REPO_ROOT
from tests.images.build import IMAGE_TEST
from tests.images.podman import Podman
from tests.images.report import SIZES
from tests.support.makefile import image_services

pytestmark = IMAGE_TEST

MAX_GROWTH_BYTES = 70 * 10**6
# Tools of the build and of development that must not be on an image's PATH. (pip is not
# among them: the official python base ships it, and with a read-only root it installs nothing.)
BUILD_TOOLS = ["uv", "uvx", "pytest", "ruff", "mypy", "hadolint", "git", "gcc", "make"]

INSIDE = r"""
import importlib.metadata, importlib.util, json, os, re, shutil, sys

def normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()

site = [p for p in sys.path if p.endswith("site-packages")][0]
ours = []
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
    for name in dirs + files:
        path = os.path.join(root, name)
        if name in (".git", "uv.lock", "conftest.py") or (
            "tasklane" in name and not path.startswith((site, "/opt/venv/bin/tasklane-"))
        ):
            ours.append(path)
installed = {normal(d.metadata["Name"]) for d in importlib.metadata.distributions()}
print(json.dumps({
    "tools": [t for t in sys.argv[1:] if shutil.which(t)],
    "distributions": sorted(installed),
    "modules": sorted(n for n in os.listdir(site) if re.fullmatch(r"tasklane_\w+", n)),
    "tests_package": importlib.util.find_spec("tests") is not None,
    "out_of_place": ours,
}))
"""


def _inside(podman: Podman, image: str) -> dict[str, Any]:
    run = ["run", "--rm", "--network=none", "--read-only", "--entrypoint=python", image]
    done = podman.run(*run, "-c", INSIDE, *BUILD_TOOLS)
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _locked_runtime(service: str) -> tuple[set[str], set[str]]:
    """(distributions the lock always installs for the service, those under a marker)."""
    export = ["uv", "export", "--frozen", "--no-dev", "--package", f"tasklane-{service}"]
    exported = subprocess.run(
        [*export, "--no-hashes", "--no-header", "--no-annotate", "--format", "requirements.txt"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    always: set[str] = set()
    conditional: set[str] = set()
    for line in exported.splitlines():
        if line.startswith("-e ./services/"):
            always.add("tasklane-" + line.rsplit("/", 1)[1])
        elif line.strip():
            name = re.split(r"[=<>; ]", line, maxsplit=1)[0].lower()
            (conditional if ";" in line else always).add(name)
    return always, conditional


@pytest.mark.parametrize("service", image_services())
class TestImage:
    def test_holds_the_locked_runtime_and_nothing_of_the_build(
        self, service: str, podman: Podman, images: dict[str, str]
    ) -> None:
        found = _inside(podman, images[service])
        assert found["tools"] == [], "build or dev tools on the image's PATH"
        assert found["out_of_place"] == [], "sources, tests, the lock or .git on the image"
        assert found["tests_package"] is False
        assert found["modules"] == sorted(["tasklane_contract", f"tasklane_{service}"])
        always, conditional = _locked_runtime(service)
        installed = set(found["distributions"])
        assert always <= installed, f"locked but not installed: {always - installed}"
        extra = installed - always - conditional
        assert not extra, f"installed but not a runtime dependency of tasklane-{service}: {extra}"

    def test_is_labelled_and_runs_as_the_chart_expects(
        self, service: str, podman: Podman, images: dict[str, str]
    ) -> None:
        config = podman.image_config(images[service])["Config"]
        labels = config["Labels"]
        chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
        manifest = (REPO_ROOT / "services" / service / "pyproject.toml").read_text()
        description = re.search(r'^description = "(.*)"$', manifest, re.MULTILINE)
        assert description
        assert labels["org.opencontainers.image.title"] == f"tasklane-{service}"
        assert labels["org.opencontainers.image.version"] == chart["appVersion"]
        assert labels["org.opencontainers.image.description"] == description.group(1)
        assert config["User"] == "10001:10001"
        assert f"SERVICE_MODULE=tasklane_{service}" in config["Env"]

    def test_stays_within_70_mb_of_its_base(
        self, service: str, podman: Podman, images: dict[str, str], python_base: str
    ) -> None:
        size, base = podman.image_size(images[service]), podman.image_size(python_base)
        SIZES[images[service]] = (size, base)
        assert size - base < MAX_GROWTH_BYTES, f"{(size - base) / 1e6:.1f} MB over the base"
