"""kombu's Redis transport, with one Redis client object per channel instead of one per call.

kombu builds a new `redis.Redis` for every operation other than the blocking fetch: keeping a
reserved message in `unacked`, acknowledging it, publishing. redis-py's constructor copies a
few hundred reply callbacks each time, which was a tenth of a worker's consumer loop, the one
process that fetches, hands out and acknowledges every task. The client object holds no
connection (each command borrows one from the channel's pool), so one per channel and pool,
made again in a forked process, serves every call. Connections, pools and commands stay
kombu's own.
"""

from __future__ import annotations

import os
from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client: tuple[int, Any, Any] | None = None  # (pid, pool, client)

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:  # the fetch's own client, which kombu already keeps
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        shared = self._shared_client
        if shared is None or shared[0] != os.getpid() or shared[1] is not self.pool:
            client = super()._create_client()  # type: ignore[no-untyped-call]
            shared = (os.getpid(), self.pool, client)
            self._shared_client = shared
        return shared[2]


class Transport(kombu_redis.Transport):
    Channel = Channel


# The `broker_transport` setting: kombu takes it over the URL's scheme.
TRANSPORT = f"{__name__}:Transport"
