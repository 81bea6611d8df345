"""Worker probe: `python -m tasklane_worker.liveness [--max-age SECONDS] [--ready]` exits 1 when
the worker's heartbeat file is missing or older than the limit (its consumer is stuck); with
`--ready` also while the worker waits for Redis instead of consuming."""

from __future__ import annotations

import sys

from tasklane_contract.heartbeat import probe_command
from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import load_settings
from tasklane_worker.heartbeat import CONSUMING


def main(argv: list[str] | None = None) -> int:
    return probe_command(
        argv,
        load_settings(Settings).worker_heartbeat_file,
        setting="TASKLANE_WORKER_HEARTBEAT_FILE",
        ready_states={CONSUMING},
        description=__doc__ or "",
    )


if __name__ == "__main__":
    sys.exit(main())
