"""`python -m tasklane_worker [celery worker options]`: run a worker on the configured queues."""

from __future__ import annotations

import logging
import sys

from tasklane_contract.catalog import longest_time_limit_s
from tasklane_contract.logs import configure_logging
from tasklane_contract.queues import ALL_QUEUES
from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import load_settings
from tasklane_worker import connection_log
from tasklane_worker.app import ContractMismatch, create_worker_app

log = logging.getLogger("tasklane_worker")


def worker_argv(settings: Settings, extra: list[str]) -> list[str]:
    queues = settings.worker_queues or ALL_QUEUES
    return [
        "worker",
        f"--loglevel={settings.log_level}",
        f"--queues={','.join(queues)}",
        f"--concurrency={settings.worker_concurrency}",
        # Our revoke marker lives in Redis, so mingle's start-up sync is not needed, and
        # gossip's chatter grows with the number of workers.
        "--without-mingle",
        "--without-gossip",
        *extra,
    ]


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(Settings)
    configure_logging(settings)
    connection_log.install(settings.redis_display)
    unknown = set(settings.worker_queues) - set(ALL_QUEUES)
    if unknown:
        log.error("unknown queues in TASKLANE_WORKER_QUEUES: %s", ", ".join(sorted(unknown)))
        return 2
    if settings.visibility_timeout_s < longest_time_limit_s():
        log.warning(
            "TASKLANE_VISIBILITY_TIMEOUT_S=%s is below the longest task time limit (%ss): "
            "a task still running then is handed to another worker as well",
            settings.visibility_timeout_s,
            longest_time_limit_s(),
        )
    try:
        app = create_worker_app(settings)
    except ContractMismatch as exc:
        log.error("%s", exc)
        return 2
    log.info("worker starting against %s", settings.redis_display)
    app.worker_main(worker_argv(settings, sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
