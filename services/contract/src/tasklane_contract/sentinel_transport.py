"""tasklane's broker transport (`redis_transport`) for a Redis that Sentinel watches.

The fetch-and-reserve script, the acknowledgements that ride along and the shared client stay
as they are; what changes is only where connections go. kombu's `SentinelChannel` gives every
connection pool of the channel (the one commands borrow from and the one the blocking fetch
uses) to the master the sentinels name, asked again at each new connection. A worker that loses
the master (the connection drops, or a demoted master refuses a write) reconnects as it would to
a restarted Redis, and the sentinels send it to the promoted replica.

One addition: while a failover is under way nobody can be connected to (the dead master
refuses, then the sentinels name none until they promote a replica), and kombu's own retries
back off to 2, 4, 6... seconds, so a worker would come back up to one such step after the new
master. A connection that fails here is instead tried again every MASTER_POLL_S for up to
MASTER_WAIT_S (a failover takes Sentinel's down-after time plus a second or two), and the
consumer reconnects within MASTER_POLL_S of the promotion.

The broker URL is one `sentinel://` URL per sentinel, separated by `;`, and the transport
options carry `master_name` and `sentinel_kwargs` (tasklane_contract.redis_clients builds both).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kombu.transport import redis as kombu_redis

from tasklane_contract.redis_clients import MasterConnection
from tasklane_contract.redis_transport import Channel, Transport

logger = logging.getLogger(__name__)

MASTER_POLL_S = 0.5
MASTER_WAIT_S = 20.0


class SentinelChannel(Channel, kombu_redis.SentinelChannel):
    """tasklane's channel first (fetching, acks), kombu's sentinel pools beneath it."""

    # A master cut off from its replicas is left as a demoted one is (redis_clients).
    connection_class = MasterConnection
    # Both parents' transport options: tasklane's own and kombu's master_name, sentinel_kwargs.
    from_transport_options = tuple(  # type: ignore[assignment]
        dict.fromkeys(
            Channel.from_transport_options + kombu_redis.SentinelChannel.from_transport_options
        )
    )


class SentinelTransport(Transport):
    default_port = 26379  # type: ignore[assignment]  # a sentinel's port, when a URL has none
    Channel = SentinelChannel

    def establish_connection(self) -> Any:
        deadline = time.monotonic() + MASTER_WAIT_S
        waiting = False
        while True:
            try:
                return super().establish_connection()  # type: ignore[no-untyped-call]
            except self.connection_errors as error:
                if time.monotonic() + MASTER_POLL_S > deadline:
                    raise
                if not waiting:
                    logger.warning(
                        "no reachable Redis master (%s); asking the sentinels again every %ss "
                        "for up to %ss",
                        error,
                        MASTER_POLL_S,
                        MASTER_WAIT_S,
                    )
                    waiting = True
                time.sleep(MASTER_POLL_S)


# The `broker_transport` setting with sentinels.
SENTINEL_TRANSPORT = f"{__name__}:SentinelTransport"
