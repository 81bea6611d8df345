"""`make images` as the tests run it: one service at a time (so each build is timed on its own),
with podman, into the tests' image store, from the bases and never pulling them."""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.chart.render import REPO_ROOT
from tests.images.podman import Podman

IMAGE_TAG = "image-test"
# The marks of a test of the images. Whichever runs first builds every image in its set-up (and,
# on a fresh machine, the stand-ins of the bases): more than pytest's usual timeout allows.
IMAGE_TEST = [pytest.mark.images, pytest.mark.slow, pytest.mark.timeout(1500)]


def image_name(service: str) -> str:
    return f"localhost/tasklane-{service}:{IMAGE_TAG}"


def trust_mounts(scratch: Path) -> list[str]:
    """Build-time only: the host's CA bundle, and uv told to trust the system's certificates,
    for builds behind a TLS-intercepting proxy whose CA only the host trusts. They are bind
    mounts of the build's RUN steps, so nothing of them is left in an image."""
    uv_config = scratch / "uv.toml"
    uv_config.write_text("system-certs = true\n")
    mounts = [f"--volume={uv_config}:/etc/uv/uv.toml:ro"]
    defaults = ssl.get_default_verify_paths()
    cafile = os.environ.get("SSL_CERT_FILE") or defaults.cafile or defaults.openssl_cafile
    if cafile and Path(cafile).is_file():
        mounts.append(f"--volume={cafile}:/etc/ssl/certs/ca-certificates.crt:ro")
    return mounts


def make_image(podman: Podman, service: str, build_flags: list[str]) -> None:
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "images",
            f"IMAGE_SERVICES={service}",
            f"IMAGE_TAG={IMAGE_TAG}",
            "IMAGE_REGISTRY=",
            "CONTAINER_ENGINE=podman",
            f"IMAGE_BUILD_FLAGS={' '.join(build_flags)}",
        ],
        cwd=REPO_ROOT,
        env={**podman.env, "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"make images ({service}):\n{done.stdout[-4000:]}{done.stderr}"
