"""The upstream images the Dockerfile and the chart start from, or local stand-ins for them on a
machine that cannot pull them (no registry reachable, as in CI).

A stand-in is made only when the real image is neither in the tests' image store nor pullable,
and lives only in that store (see tests/images/podman.py), so `make images` never builds on one:

- `python:<version>-slim-<suite>`: a minimal Debian <suite> with python3 and CA certificates,
  made by debootstrap (root only) and imported under the exact name the Dockerfile uses;
- `ghcr.io/astral-sh/uv:<version>`: the `uv` and `uvx` binaries of that uv release's PyPI wheel
  at the image root, where the Dockerfile copies uv from;
- the chart's Redis image: that Debian with Debian's redis-server, which the tests run with the
  chart's own command, configuration, password and probes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from tests.chart.render import REPO_ROOT
from tests.images.podman import Podman

DOCKERFILE = REPO_ROOT / "services" / "Dockerfile"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PULL_TIMEOUT_S = 300
Origin = Literal["present", "pulled", "stand-in"]


class StandInError(RuntimeError):
    pass


def qualified(name: str) -> str:
    """A Docker Hub short name with its registry, as podman stores it."""
    first, _, rest = name.partition("/")
    if not rest:
        return f"docker.io/library/{name}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{name}"
    if first == "docker.io" and "/" not in rest:
        return f"docker.io/library/{rest}"
    return name


def python_base() -> str:
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    if match is None:
        raise StandInError(f"{DOCKERFILE} sets no default PYTHON_IMAGE")
    return qualified(match.group(1))


def uv_image() -> str:
    match = re.search(r"^FROM (\S*/uv:\S+) AS uv$", DOCKERFILE.read_text(), re.MULTILINE)
    if match is None:
        raise StandInError(f"{DOCKERFILE} copies uv from no image")
    return qualified(match.group(1))


def ensure(podman: Podman, name: str, make_stand_in: Callable[[], None]) -> Origin:
    """The image in the tests' store: already there, pulled, or a stand-in made for it."""
    if podman.has_image(name):
        return "present"
    if podman.run("pull", "--quiet", name, check=False, timeout=PULL_TIMEOUT_S).returncode == 0:
        return "pulled"
    make_stand_in()
    if not podman.has_image(name):
        raise StandInError(f"the stand-in for {name} was not stored")
    return "stand-in"


def _run(argv: list[str], cwd: Path, timeout_s: float) -> None:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise StandInError(f"{' '.join(argv[:4])} ... failed:\n{done.stdout[-3000:]}{done.stderr}")


def _import(podman: Podman, directory: Path, members: list[str], name: str, *changes: str) -> None:
    """`podman import` of a tar of `members` of `directory`."""
    tar = subprocess.Popen(["tar", "-C", str(directory), "-c", *members], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        imported = subprocess.run(
            [podman.binary, "import", *(f"--change={c}" for c in changes), "-", name],
            stdin=tar.stdout,
            env=podman.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        tar.stdout.close()
        tar.wait()
    if imported.returncode != 0 or tar.returncode != 0:
        raise StandInError(f"importing {name} failed: {imported.stderr[-2000:]}")


def make_python_base(podman: Podman, name: str, workdir: Path) -> None:
    """Debian <suite> (the tag's last word) with python3, as the official slim image has."""
    suite = name.rsplit("-", 1)[-1]
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None or os.geteuid() != 0:
        raise StandInError(
            f"{name} cannot be pulled, and its stand-in needs debootstrap run as root "
            "(apt-get install debootstrap)"
        )
    rootfs = workdir / "rootfs"
    minimal = ["--variant=minbase", "--include=python3,ca-certificates"]
    _run([debootstrap, *minimal, suite, str(rootfs), DEBIAN_MIRROR], workdir, timeout_s=1200)
    # apt's downloaded packages and lists: the slim images ship neither.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (rootfs / leftover).glob("*"):
            if path.is_file():
                path.unlink()
    try:
        _import(
            podman,
            rootfs,
            ["."],
            name,
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["python3"]',
        )
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def make_uv_image(podman: Podman, name: str, workdir: Path) -> None:
    """The uv release's binaries, taken from its wheel on PyPI for this machine's platform."""
    version = name.rsplit(":", 1)[1]
    uv = shutil.which("uv")
    if uv is None:
        raise StandInError("uv is not on PATH")
    target = workdir / "uv-wheel"
    install = [uv, "pip", "install", "--quiet", "--no-deps", "--python", sys.executable]
    _run([*install, "--target", str(target), f"uv=={version}"], workdir, timeout_s=600)
    _import(podman, target / "bin", ["uv", "uvx"], name, 'ENTRYPOINT ["/uv"]')


def make_redis_image(podman: Podman, name: str, base: str, workdir: Path) -> None:
    """Debian's redis-server (and redis-cli, which the chart's probes run) on the python base,
    which is Debian too."""
    containerfile = workdir / "Containerfile.redis"
    containerfile.write_text(
        f"FROM {base}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends redis-server "
        "&& rm -rf /var/lib/apt/lists/*\n"
    )
    build = ["build", "--pull=never", "--file", str(containerfile), "--tag", name, str(workdir)]
    podman.run(*build, timeout=900)
