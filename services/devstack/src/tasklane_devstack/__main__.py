"""`python -m tasklane_devstack` (what `make run` runs): Redis unless TASKLANE_REDIS_URL (or
TASKLANE_REDIS_SENTINELS) is set, then the API, one worker, beat and celery-exporter; Ctrl-C or
SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from tasklane_autoscaler.local import LocalScaler
from tasklane_autoscaler.policy import ScalingSpec
from tasklane_autoscaler.worker_load import running_tasks_by_worker
from tasklane_contract.celery_config import create_celery_app
from tasklane_contract.logs import configure_logging
from tasklane_contract.queues import ALL_QUEUES
from tasklane_contract.redis_clients import redis_client
from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import load_settings
from tasklane_devstack.exporter import exporter_command, exporter_env, find_uv
from tasklane_devstack.flower import flower_command, flower_login
from tasklane_devstack.ports import free_port, port_is_free
from tasklane_devstack.redis_server import RedisNotFound, RedisServer, RedisStartFailed
from tasklane_devstack.supervisor import Supervisor
from tasklane_devstack.worker_pool import WorkerPool

DEFAULT_REDIS_PORT = 6379
DATA_DIR = Path(".tasklane/redis")
# Local workers answer Celery's inspect within milliseconds; one that does not is stuck.
INSPECT_TIMEOUT_S = 1.0


class Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def start_local_autoscaler(settings: Settings, workers: WorkerPool) -> Callable[[], None]:
    """The operator's policy, driving local worker processes instead of a Deployment. Returns
    what stops it: the loop ends its step, then its broker connections close."""
    spec = ScalingSpec(
        concurrency=settings.worker_concurrency,
        min_replicas=1,
        max_replicas=int(os.environ.get("TASKLANE_AUTOSCALE_MAX", "4")),
        startup_s=3.0,
        scale_down_stabilization_s=float(os.environ.get("TASKLANE_AUTOSCALE_SCALE_DOWN_S", "30")),
    )
    # Which workers run nothing is asked of Celery, so a scale-down stops an idle one first.
    app = create_celery_app(settings, main="tasklane-local-autoscaler")
    client = redis_client(settings)
    scaler = LocalScaler(
        client,
        settings.worker_queues or ALL_QUEUES,
        spec,
        workers,
        running_by_node=lambda: running_tasks_by_worker(app, INSPECT_TIMEOUT_S),
    )
    thread, stop = scaler.start_in_thread()
    print(f"autoscaling workers between 1 and {spec.max_replicas} on the backlog", flush=True)

    def stop_scaling() -> None:
        stop.set()
        # A step under way may be waiting on Celery's inspect replies: let it end first.
        thread.join(timeout=scaler.poll_interval_s + INSPECT_TIMEOUT_S + 5)
        app.close()
        client.close()

    return stop_scaling


def start_exporter(supervisor: Supervisor, settings: Settings) -> str:
    """celery-exporter, if uv can fetch it; the stack runs on without it otherwise."""
    uv = find_uv()
    if uv is None:
        return "not started: uv is not on PATH"
    if not port_is_free(settings.exporter_port, settings.api_host):
        return f"not started: port {settings.exporter_port} is taken (TASKLANE_EXPORTER_PORT)"
    supervisor.start_command(
        "celery-exporter",
        exporter_command(uv, settings, host=settings.api_host),
        extra_env=exporter_env(settings),
        essential=False,
    )
    return f"http://{settings.api_host}:{settings.exporter_port}/metrics"


def start_flower(supervisor: Supervisor, settings: Settings) -> str:
    """Flower with basic auth, or why it did not start; the stack runs on without it."""
    port = settings.flower_listen_port
    if not port_is_free(port, settings.api_host):
        return f"not started: port {port} is taken (TASKLANE_FLOWER_LISTEN_PORT)"
    login = flower_login(settings)
    supervisor.start_command(
        "flower",
        flower_command(settings),
        extra_env={"FLOWER_BASIC_AUTH": login.basic_auth},
        essential=False,
    )
    return f"http://{settings.api_host}:{port}  ({login.shown})"


def main() -> int:
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    settings = load_settings(Settings)
    configure_logging(settings)
    redis_server = None
    supervisor: Supervisor | None = None
    stop_scaling: Callable[[], None] | None = None
    try:
        if not {"TASKLANE_REDIS_URL", "TASKLANE_REDIS_SENTINELS"} & set(os.environ):
            port = DEFAULT_REDIS_PORT if port_is_free(DEFAULT_REDIS_PORT) else free_port()
            # AOF in a folder of the checkout: queued tasks survive a restart of `make run`.
            redis_server = RedisServer(port, DATA_DIR, appendonly=True).start()
            os.environ["TASKLANE_REDIS_URL"] = redis_server.url
            settings = Settings()
            print(f"embedded Redis ({redis_server.binary.name}) on {redis_server.url}", flush=True)
        supervisor = Supervisor(os.environ)
        supervisor.start("api", "tasklane_api")
        supervisor.start("beat", "tasklane_beat")
        workers = WorkerPool(supervisor)
        workers.start()
        exporter = start_exporter(supervisor, settings)
        flower = f"  Flower    {start_flower(supervisor, settings)}\n" if settings.flower else ""
        if os.environ.get("TASKLANE_AUTOSCALE") == "1":
            stop_scaling = start_local_autoscaler(settings, workers)
        base = f"http://{settings.api_host}:{settings.api_port}"
        print(
            f"\ntasklane is starting:\n"
            f"  API       {base}/v1/task-types\n"
            f"  API docs  {base}/docs\n"
            f"  Redis     {settings.redis_display}\n"
            f"{flower}"
            f"metrics (Prometheus):\n"
            f"  API              {base}/metrics  (requests, submissions, backlog per queue)\n"
            f"  celery-exporter  {exporter}  (tasks, workers)\n"
            f"try: curl -s -X POST {base}/v1/tasks/text.process "
            f"-H 'Content-Type: application/json' -d '{{\"data\": \"hello\"}}'\n"
            f"Ctrl-C stops everything.\n",
            flush=True,
        )
        while (exited := supervisor.first_exited()) is None:
            if (optional := supervisor.first_exited(essential=False)) is not None:
                print(
                    f"{optional.name} exited with {optional.process.returncode}; "
                    "the stack runs on without it",
                    flush=True,
                )
                supervisor.retire(optional)
            time.sleep(0.5)
        print(f"{exited.name} exited with {exited.process.returncode}; stopping", flush=True)
        return 1
    except Stop as stop:
        print(f"\n{stop}: stopping tasklane", flush=True)
        return 0
    except (RedisStartFailed, RedisNotFound) as exc:
        print(f"embedded Redis not started: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stop_scaling is not None:
            stop_scaling()
        if supervisor is not None:
            supervisor.stop_all()
        if redis_server is not None:
            redis_server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
