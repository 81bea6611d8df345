"""`python -m tasklane_autoscaler`: run the operator."""

from __future__ import annotations

import kopf

from tasklane_autoscaler import handlers
from tasklane_autoscaler.config import AutoscalerSettings
from tasklane_contract.settings import Settings
from tasklane_contract.settings_loading import load_settings


def main() -> None:
    # Both are checked before kopf starts: refused inside its startup handler, they would be
    # retried forever with a traceback each time. The handler builds its own from the same
    # (now valid) environment.
    load_settings(Settings)
    own = load_settings(AutoscalerSettings)
    kopf.configure(verbose=False)
    liveness = f"http://0.0.0.0:{own.liveness_port}/healthz" if own.liveness_port else None
    assert handlers.autoscale is not None  # importing handlers registers them with kopf
    kopf.run(
        standalone=True,
        clusterwide=not own.namespaces,
        namespaces=list(own.namespaces),
        liveness_endpoint=liveness,
    )


if __name__ == "__main__":
    main()
