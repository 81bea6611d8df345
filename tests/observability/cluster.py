"""KMock's Kubernetes emulator served from a thread of its own, so that the real autoscaler
operator (`python -m tasklane_autoscaler`) can run beside a synchronous test and export its
metrics. The objects are the autoscaler tests' own (tests/autoscaler/emulated.py)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import kmock

from tests.autoscaler.emulated import (
    AUTOSCALERS,
    DEPLOYMENTS,
    NAMESPACE,
    autoscaler,
    declare_resources,
    deployment,
)


class ThreadedCluster:
    def __init__(self, replicas: int, **autoscaler_spec: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stack = contextlib.AsyncExitStack()
        self.url = asyncio.run_coroutine_threadsafe(
            self._start(replicas, autoscaler_spec), self._loop
        ).result(timeout=30)

    async def _start(self, replicas: int, spec: dict[str, Any]) -> str:
        cluster = await self._stack.enter_async_context(kmock.KubernetesEmulator())
        server = await self._stack.enter_async_context(kmock.Server(cluster))
        declare_resources(cluster)
        cluster.objects[DEPLOYMENTS, NAMESPACE, "workers"] = deployment(replicas=replicas)
        cluster.objects[AUTOSCALERS, NAMESPACE, "workers"] = autoscaler(**spec)
        return str(server.url)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stack.aclose(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
