"""Writes that replicas must have before the API calls them accepted.

Redis replicates asynchronously: a master answers a write before any replica has it, and when
that master dies the promoted replica may never have seen it. `WAIT n timeout` makes the master
hold its answer until `n` replicas acknowledge every write made so far on the same connection,
so the write and its WAIT go together, pipelined on one connection in one round trip. A write
that fewer replicas have when the timeout ends may still be lost in a failover: the caller
answers 503, and a client that retries with the same Idempotency-Key gets the same task back.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, ResponseError


class NotReplicated(Exception):
    """The write reached fewer replicas than required within the timeout."""

    def __init__(self, acknowledged: int, required: int, timeout_s: float) -> None:
        super().__init__(
            f"{acknowledged} of the {required} replica(s) required acknowledged the submission "
            f"within {timeout_s:g}s"
        )


class ReplicatedScript:
    """A Lua script whose every run is acknowledged by `replicas` replicas (none: as usual)."""

    def __init__(
        self, client: aioredis.Redis, source: str, replicas: int, timeout_s: float
    ) -> None:
        self.client = client
        self.replicas = replicas
        self.timeout_s = timeout_s
        self.script = client.register_script(source)

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        if not self.replicas:
            return await self.script(keys=keys, args=args)
        command = ("EVALSHA", self.script.sha, len(keys), *keys, *args)
        try:
            return await self._run(command)
        except NoScriptError:  # a restarted or promoted Redis has no scripts cached
            await self.client.script_load(self.script.script)
            return await self._run(command)

    async def _run(self, command: tuple[Any, ...]) -> Any:
        pool = self.client.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            # Retried like any command of the client (once, on a dropped connection): after a
            # failover the retry reconnects through the sentinels to the new master.
            reply, acknowledged = await connection.retry.call_with_retry(
                lambda: self._send(connection, command),
                lambda _error: connection.disconnect(),
            )
        finally:
            await pool.release(connection)
        if acknowledged < self.replicas:
            raise NotReplicated(acknowledged, self.replicas, self.timeout_s)
        return reply

    async def _send(
        self, connection: AbstractConnection, command: tuple[Any, ...]
    ) -> tuple[Any, int]:
        wait = ("WAIT", self.replicas, max(1, round(self.timeout_s * 1000)))
        await connection.send_packed_command(connection.pack_commands([command, wait]))
        try:
            reply = await connection.read_response()
        except ResponseError:
            await connection.read_response()  # WAIT's answer: the connection stays in step
            raise
        return reply, int(await connection.read_response())
