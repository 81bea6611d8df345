"""The two systems a run compares: how to start each one's API and worker, and how to queue
tasks directly for the worker-throughput measurement."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from celery import Celery

from bench.processes import Process, python

WORKER_CONCURRENCY = "2"  # one process per core of the benchmark machine


@dataclass(frozen=True)
class Target:
    name: str

    def env(self, redis_url: str, port: int | None = None) -> dict[str, str]:
        if self.name == "tasklane":
            env = {
                "TASKLANE_REDIS_URL": redis_url,
                "TASKLANE_LOG_LEVEL": "WARNING",
                "TASKLANE_WORKER_CONCURRENCY": WORKER_CONCURRENCY,
            }
            return env | ({"TASKLANE_API_PORT": str(port)} if port else {})
        return {"BASELINE_REDIS_URL": redis_url}

    def start_api(self, redis_url: str, port: int, log_dir: Path) -> Process:
        if self.name == "tasklane":
            argv = python("-m", "tasklane_api")
        else:
            argv = python(
                "-m",
                "uvicorn",
                "bench.baseline_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            )
        return Process(f"{self.name}-api", argv, self.env(redis_url, port), log_dir)

    def start_worker(self, redis_url: str, log_dir: Path) -> Process:
        if self.name == "tasklane":
            argv = python("-m", "tasklane_worker", "--loglevel=INFO")
        else:  # Celery's defaults, as the textbook runs it
            argv = python(
                "-m",
                "celery",
                "-A",
                "bench.baseline_app:celery_app",
                "worker",
                f"--concurrency={WORKER_CONCURRENCY}",
                "--loglevel=INFO",
            )
        return Process(f"{self.name}-worker", argv, self.env(redis_url), log_dir)

    def queue_tasks(self, redis_url: str, count: int) -> list[str]:
        """Publish `text.process` tasks straight to the broker, the way each one's producers
        do (tasklane routes to its `default` queue, the textbook to Celery's `celery`)."""
        if self.name == "tasklane":
            from tasklane_contract.celery_config import create_celery_app
            from tasklane_contract.settings import Settings

            app = create_celery_app(Settings(redis_url=redis_url), main="bench")
        else:
            app = Celery("baseline-producer", broker=redis_url, backend=redis_url)
        try:
            return [
                app.send_task("text.process", kwargs={"data": "hello"}).id for _ in range(count)
            ]
        finally:
            app.close()


TARGETS = (Target("tasklane"), Target("baseline"))
