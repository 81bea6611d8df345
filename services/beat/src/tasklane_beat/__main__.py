"""`python -m tasklane_beat`: fire the schedule. Several may run; one holds the lock and fires,
the others wait to take over."""

from __future__ import annotations

import logging
import sys

from tasklane_beat.app import create_beat_app
from tasklane_beat.schedule import ScheduleError
from tasklane_contract.logs import configure_logging
from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import load_settings

log = logging.getLogger("tasklane_beat")


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(Settings)
    configure_logging(settings)
    try:
        app = create_beat_app(settings)
    except ScheduleError as exc:
        log.error("%s", exc)
        return 2
    log.info("beat starting against %s", settings.redis_display)
    extra = sys.argv[1:] if argv is None else argv
    app.start(["beat", f"--loglevel={settings.log_level}", *extra])
    return 0


if __name__ == "__main__":
    sys.exit(main())
