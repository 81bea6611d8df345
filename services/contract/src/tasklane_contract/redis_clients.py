"""Every Redis client tasklane makes, built from the settings here and nowhere else.

Two forms. Plain: TASKLANE_REDIS_URL (with TASKLANE_REDIS_PASSWORD put into it) names the one
Redis. Sentinel: TASKLANE_REDIS_SENTINELS lists the sentinels, each client asks them for the
master TASKLANE_REDIS_MASTER_NAME whenever it opens a connection, and TASKLANE_REDIS_URL gives
only the database (and a username, if any). A client that loses its connection when the master
dies connects again through the sentinels and so reaches whichever node they promoted; a
connection still open to a demoted master fails on its first write (READONLY) and is replaced
the same way.

A master cut off from its replicas refuses writes (the nodes run with min-replicas-to-write 1:
an old master that comes back after a failover must not take writes the new one never sees);
clients treat that refusal as they treat READONLY, as a sign to ask the sentinels again
(MasterConnection, AsyncMasterConnection).

The clients: redis-py's (API, autoscaler, backlog readers, beat's redbeat, tasklane's own keys),
Celery's broker transport and result backend, and celery-exporter's command line.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.connection import parse_url
from redis.exceptions import ConnectionError, ResponseError

from tasklane_contract.settings import Settings

# Seconds a client waits on one sentinel before asking the next: a sentinel answers from
# memory, so one that takes longer is gone or cut off.
SENTINEL_TIMEOUT_S = 1.0


# The error a master gives for a write while it has too few replicas (min-replicas-to-write).
NO_REPLICAS = "NOREPLICAS"


def _refuses_writes(error: ResponseError) -> bool:
    return str(error).startswith(NO_REPLICAS)


class MasterConnection(redis.sentinel.SentinelManagedConnection):
    """A connection to the master the sentinels name, given up on (closed, so the next use
    asks the sentinels again) when that master refuses writes for want of replicas, as
    redis-py already does when it finds itself talking to a replica (READONLY)."""

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except ResponseError as error:
            if not (_refuses_writes(error) and self.connection_pool.is_master):
                raise
            self.disconnect()  # type: ignore[no-untyped-call]
            raise ConnectionError(f"the master refuses writes: {error}") from error


class AsyncMasterConnection(redis.asyncio.sentinel.SentinelManagedConnection):
    """`MasterConnection` for asyncio clients."""

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as error:
            if not (_refuses_writes(error) and self.connection_pool.is_master):
                raise
            await self.disconnect()
            raise ConnectionError(f"the master refuses writes: {error}") from error


def sentinel_addresses(settings: Settings) -> list[tuple[str, int]]:
    addresses = []
    for address in settings.redis_sentinels:
        host, _, port = address.rpartition(":")
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def sentinel_kwargs(settings: Settings) -> dict[str, Any]:
    """How clients talk to the sentinels themselves (not to Redis)."""
    options: dict[str, Any] = {
        "socket_timeout": SENTINEL_TIMEOUT_S,
        "socket_connect_timeout": SENTINEL_TIMEOUT_S,
    }
    if settings.redis_sentinel_password is not None:
        options["password"] = settings.redis_sentinel_password.get_secret_value()
    return options


def master_params(settings: Settings) -> dict[str, Any]:
    """The master's database and credentials, from the URL (the sentinels give its address)."""
    params: dict[str, Any] = parse_url(settings.broker_url)  # type: ignore[no-untyped-call]
    return {key: params[key] for key in ("db", "username", "password") if key in params}


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    """A redis-py client of the master; `options` are connection options (socket_timeout...)."""
    if not settings.redis_sentinels:
        return redis.Redis.from_url(settings.broker_url, **options)
    client: redis.Redis = _master_for(
        settings, redis.sentinel.Sentinel, MasterConnection, **options
    )
    return client


def async_redis_client(settings: Settings, **options: Any) -> redis.asyncio.Redis:
    """`redis_client` for asyncio callers (the API)."""
    if not settings.redis_sentinels:
        return redis.asyncio.Redis.from_url(settings.broker_url, **options)
    client: redis.asyncio.Redis = _master_for(
        settings, redis.asyncio.sentinel.Sentinel, AsyncMasterConnection, **options
    )
    return client


def _master_for(
    settings: Settings, sentinel_class: Any, connection_class: type, **options: Any
) -> Any:
    """A client of the master the sentinels name, of redis-py's sync or asyncio kind."""
    sentinels = sentinel_class(
        sentinel_addresses(settings),
        sentinel_kwargs=sentinel_kwargs(settings),
        **master_params(settings),
    )
    return sentinels.master_for(
        str(settings.redis_master_name), connection_class=connection_class, **options
    )


def celery_url(settings: Settings) -> str:
    """The broker and result backend URL: the Redis URL, or one `sentinel://` URL per sentinel
    (kombu's and Celery's form) carrying the master's credentials and database."""
    if not settings.redis_sentinels:
        return settings.broker_url
    params = master_params(settings)
    user = quote(params.get("username") or "", safe="")
    auth = f"{user}@" if user else ""
    if "password" in params:
        auth = f"{user}:{quote(params['password'], safe='')}@"
    return ";".join(
        f"sentinel://{auth}{_url_host(host)}:{port}/{params['db']}"
        for host, port in sentinel_addresses(settings)
    )


def sentinel_transport_options(settings: Settings) -> dict[str, Any]:
    """What kombu's and Celery's sentinel support need beside the URL; empty without sentinels."""
    if not settings.redis_sentinels:
        return {}
    return {
        "master_name": settings.redis_master_name,
        "sentinel_kwargs": sentinel_kwargs(settings),
    }


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
