"""Filling a real Redis to its maxmemory (with noeviction, as the chart runs it), and freeing it."""

from __future__ import annotations

import contextlib
import threading

import redis

FILLER_PREFIX = "test:filler:"


def fill_to_maxmemory(client: redis.Redis, headroom_bytes: int = 256 * 1024) -> list[str]:
    """Set maxmemory a little above what Redis uses now, then write filler keys until Redis
    refuses even a small one (a refused big write frees its buffer and leaves room behind).
    Returns the filler keys; `free` deletes them and lifts the limit."""
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used + headroom_bytes)
    keys: list[str] = []
    for size in (16384, 1024, 64):
        try:
            for _ in range(100_000):
                key = f"{FILLER_PREFIX}{len(keys)}"
                client.set(key, b"x" * size)
                keys.append(key)
        except redis.exceptions.OutOfMemoryError:
            continue
        raise AssertionError("Redis never refused a write")
    return keys


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


class KeptFull:
    """Keeps writing filler keys while it runs, so whatever a client deletes is taken again at
    once and Redis stays at its maxmemory."""

    def __init__(self, client: redis.Redis, keys: list[str]) -> None:
        self.client = client
        self.keys = keys
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, daemon=True)

    def __enter__(self) -> KeptFull:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _fill(self) -> None:
        # Redis frees memory by itself (it shrinks idle clients' buffers), a few KB at a time:
        # take it back at once, big writes first.
        while not self._stop.wait(0.005):
            for size in (4096, 256, 64):
                with contextlib.suppress(redis.exceptions.OutOfMemoryError):
                    while True:
                        key = f"{FILLER_PREFIX}{len(self.keys)}"
                        self.client.set(key, b"x" * size)
                        self.keys.append(key)
