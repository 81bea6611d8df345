"""Filling a real Redis to its maxmemory (with noeviction, as the chart runs it), and freeing it."""

from __future__ import annotations

import redis

FILLER_PREFIX = "test:filler:"


def fill_to_maxmemory(client: redis.Redis, headroom_bytes: int = 256 * 1024) -> list[str]:
    """Set maxmemory a little above what Redis uses now, then write filler keys until Redis
    refuses writes. Returns the filler keys; `free` deletes them and lifts the limit."""
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used + headroom_bytes)
    keys = []
    try:
        for n in range(100_000):
            key = f"{FILLER_PREFIX}{n}"
            client.set(key, b"x" * 16384)
            keys.append(key)
    except redis.exceptions.OutOfMemoryError:
        return keys
    raise AssertionError("Redis never refused a write")


def is_full(client: redis.Redis) -> bool:
    try:
        client.set(f"{FILLER_PREFIX}probe", b"x" * 16384)
    except redis.exceptions.OutOfMemoryError:
        return True
    client.delete(f"{FILLER_PREFIX}probe")
    return False


def free(client: redis.Redis, keys: list[str]) -> None:
    if keys:
        client.delete(*keys)
    client.config_set("maxmemory", 0)
