"""Beat's liveness probe: `python -m tasklane_beat.liveness [--max-age SECONDS]` exits 1 when
beat's heartbeat file is missing or older than the limit. Beat rewrites it on every pass of its
loop (at least every few seconds), whether it fires, stands by for another beat's lock, or
waits for Redis: only a stuck beat lets it age."""

from __future__ import annotations

import sys

from tasklane_beat.scheduler import FIRING
from tasklane_contract.heartbeat import probe_command
from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import load_settings


def main(argv: list[str] | None = None) -> int:
    return probe_command(
        argv,
        load_settings(Settings).beat_heartbeat_file,
        setting="TASKLANE_BEAT_HEARTBEAT_FILE",
        ready_states={FIRING},
        description=__doc__ or "",
    )


if __name__ == "__main__":
    sys.exit(main())
