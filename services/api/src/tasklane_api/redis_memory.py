"""How much memory Redis uses against its maxmemory (`INFO memory`), and whether it takes a
write: /metrics exports the first for the alert that fires before Redis is full, /readyz asks
both, since only a write shows whether Redis at its limit still has room."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError, OutOfMemoryError

# Written by /readyz to see whether Redis takes a write; it expires by itself.
WRITE_PROBE_KEY = "tasklane:readyz:write-probe"


@dataclass(frozen=True)
class RedisMemory:
    used_bytes: int
    max_bytes: int  # maxmemory; 0 when Redis has no limit

    def describe(self) -> str:
        if not self.max_bytes:
            return f"used_memory {self.used_bytes} bytes, no maxmemory"
        return f"used_memory {self.used_bytes} bytes of maxmemory {self.max_bytes}"


def memory_from(info: object) -> RedisMemory | None:
    """The reading from an `INFO memory` reply; None when the API's Redis user may not run
    INFO (an ACL without +info)."""
    if not isinstance(info, dict):
        return None
    return RedisMemory(int(info["used_memory"]), int(info.get("maxmemory", 0)))


async def read_redis_memory(client: aioredis.Redis) -> RedisMemory | None:
    try:
        return memory_from(await client.info("memory"))
    except NoPermissionError:
        return None


async def takes_a_write(client: aioredis.Redis) -> tuple[bool, RedisMemory | None]:
    """Whether Redis stores a small value now (False: full), and its memory, in one round
    trip. Connection and password errors are raised."""
    pipe = client.pipeline(transaction=False)
    pipe.info("memory")
    pipe.set(WRITE_PROBE_KEY, b"1", ex=60)
    info, written = await pipe.execute(raise_on_error=False)
    for reply in (info, written):
        if isinstance(reply, Exception) and not isinstance(
            reply, NoPermissionError | OutOfMemoryError
        ):
            raise reply
    return not isinstance(written, OutOfMemoryError), memory_from(info)
