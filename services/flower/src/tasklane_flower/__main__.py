"""`python -m tasklane_flower [FLOWER OPTION ...]`: Flower on tasklane's Redis, with the
contract's Celery configuration (tasklane_flower.app). Flower's own options pass through, on
the command line or as `FLOWER_*` environment variables (`FLOWER_BASIC_AUTH`,
`FLOWER_URL_PREFIX`, `FLOWER_AUTH`, ...); without basic auth or OAuth it refuses to start."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping

from tasklane_contract.logs import configure_logging
from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import load_settings
from tasklane_flower.app import create_flower_app
from tasklane_flower.authentication import authentication_configured

log = logging.getLogger("tasklane_flower")

# Defaults that FLOWER_* variables and command-line options still override. The state file is
# written only with --persistent, and then under /tmp, the one writable path in the image.
# Autoscaled workers come and go with new hostnames: forget one 10 minutes after it went.
FLOWER_DEFAULTS = {
    "FLOWER_DB": "/tmp/flower.db",
    "FLOWER_PURGE_OFFLINE_WORKERS": "600",
}


def apply_defaults(env: MutableMapping[str, str]) -> None:
    for name, value in FLOWER_DEFAULTS.items():
        env.setdefault(name, value)


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(Settings)
    configure_logging(settings)
    args = sys.argv[1:] if argv is None else argv
    if not authentication_configured(os.environ, args):
        log.error(
            "Flower would be open to anyone who reaches it: set FLOWER_BASIC_AUTH "
            "(user:password, comma separated) or FLOWER_AUTH with an OAuth provider"
        )
        return 2
    apply_defaults(os.environ)
    app = create_flower_app(settings)
    log.info("flower starting against %s", settings.redis_display)
    app.start(["flower", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
