"""celery-exporter for `make run`: the command that starts it in an environment of its own.

It pins its own versions of celery, kombu and prometheus-client, so it cannot share the
workspace's lock; `uv tool run` builds (and caches) that environment from PyPI. The package
installs its code as a top-level `src` package with no console script, hence `python -c`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

from tasklane_contract.queues import ALL_QUEUES
from tasklane_contract.redis_clients import celery_url, sentinel_transport_options
from tasklane_contract.settings import Settings

EXPORTER_PACKAGE = "prometheus-exporter-celery==0.11.2"
# It allows any celery 5 but pins redis below 6, which the newest kombu refuses: the celery
# of its own time, whose kombu works with that redis.
EXPORTER_CELERY = "celery==5.5.3"
# CE_ is the prefix of the exporter image's environment variables (CE_BROKER_URL in the chart):
# the broker URL, password included, goes in the environment, never on the command line.
_ENTRYPOINT = "from src.cli import cli; cli(auto_envvar_prefix='CE')"


def find_uv() -> str | None:
    return os.environ.get("UV") or shutil.which("uv") or _uv_beside_python()


def _uv_beside_python() -> str | None:
    candidate = os.path.join(os.path.dirname(sys.executable), "uv")
    return candidate if os.access(candidate, os.X_OK) else None


def exporter_command(uv: str, settings: Settings, *, host: str = "127.0.0.1") -> list[str]:
    return [
        *(uv, "tool", "run", "--quiet", "--from", EXPORTER_PACKAGE, "--with", EXPORTER_CELERY),
        *("python", "-c", _ENTRYPOINT),
        f"--host={host}",
        f"--port={settings.exporter_port}",
        # Every queue, so each has its metrics before (and after) a worker consumes it: with
        # workers scaled to zero the exporter would otherwise forget the queue.
        f"--queues={','.join(ALL_QUEUES)}",
        # Keep retrying a Redis that is away instead of exiting.
        "--retry-interval=5",
        # Producers' random hostnames would each make new task-sent series.
        "--generic-hostname-task-sent-metric",
        # Workers that come and go (autoscaling) leave per-hostname series behind: drop a
        # worker's series 10 minutes after its last heartbeat.
        "--purge-offline-worker-metrics=600",
    ]


def exporter_env(settings: Settings) -> dict[str, str]:
    env = {"CE_BROKER_URL": celery_url(settings)}
    options = sentinel_transport_options(settings)
    if options:
        # With sentinels: the master's name and how to reach the sentinels, as the exporter's
        # repeated --broker-transport-option (a JSON value is decoded). Click splits a
        # repeated option's variable on whitespace: JSON without spaces, and a space inside a
        # string (a password) written as its JSON escape.
        env["CE_BROKER_TRANSPORT_OPTION"] = " ".join(
            f"{name}={transport_option_value(value)}" for name, value in options.items()
        )
    return env


def transport_option_value(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":")).replace(" ", "\\u0020")
