"""`python -m tasklane_api`: serve the API with uvicorn, one process."""

from __future__ import annotations

import logging
import sys

import uvicorn

from tasklane_api.app import create_app
from tasklane_api.slow_clients import read_deadline_protocol
from tasklane_contract.logs import configure_logging
from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import load_settings


def main() -> int:
    settings = load_settings(Settings)
    configure_logging(settings)
    logging.getLogger("tasklane_api").info("API using Redis at %s", settings.redis_display)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
        # Let in-flight requests finish on SIGTERM, within the pod's grace period.
        timeout_graceful_shutdown=10,
        # uvicorn's httptools protocol with a deadline on receiving each request.
        http=read_deadline_protocol(settings.request_read_timeout_s),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
