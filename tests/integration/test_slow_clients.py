"""Clients that send a request too slowly are cut off within TASKLANE_REQUEST_READ_TIMEOUT_S,
while everyone else is served: headers that never end and a body shorter than its
Content-Length get 408 and a closed connection, a body trickled in after the answer a closed
connection."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tasklane_devstack.ports import free_port
from tasklane_devstack.redis_server import RedisServer
from tests.support.metrics import sample_value
from tests.support.processes import ServiceProcess, start_api

READ_TIMEOUT_S = 2.0
# Generous on a loaded machine.
CLOSED_WITHIN_S = READ_TIMEOUT_S + 8.0
SHORT_BODY = (
    b"POST /v1/tasks/text.process HTTP/1.1\r\nHost: api\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    b'{"data":'
)
ENDLESS_HEADERS = b"POST /v1/tasks/text.process HTTP/1.1\r\nHost: api\r\nX-Slow: "
# A body sent to a route that answers without reading it, then trickled byte by byte.
UNREAD_BODY = b"GET /healthz HTTP/1.1\r\nHost: api\r\nContent-Length: 1000\r\n\r\nx"


@dataclass
class SlowClient:
    kind: str
    sock: socket.socket
    opened: float
    received: bytes = b""
    closed_after_s: float | None = None
    trickle: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def api(fresh_redis: RedisServer, tmp_path: Path) -> Iterator[tuple[ServiceProcess, str]]:
    env = {
        "TASKLANE_REDIS_URL": fresh_redis.url,
        "TASKLANE_REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
    }
    process = start_api(env, tmp_path, port := free_port())
    yield process, f"http://127.0.0.1:{port}"
    process.stop()


def open_slow(port: int, kind: str, first_bytes: bytes) -> SlowClient:
    sock = socket.create_connection(("127.0.0.1", port))
    if first_bytes:
        sock.sendall(first_bytes)
    return SlowClient(kind, sock, time.monotonic())


def keep_trickling(client: SlowClient) -> None:
    """One more byte of the body every 0.3 s until the server closes (or 30 s pass)."""
    deadline = time.monotonic() + 30
    while not client.trickle.is_set() and time.monotonic() < deadline:
        try:
            client.sock.send(b"x")
        except OSError:
            return
        time.sleep(0.3)


def wait_until_closed(clients: list[SlowClient], timeout_s: float) -> None:
    """Read every connection until the server closes it, noting when."""
    selector = selectors.DefaultSelector()
    for client in clients:
        client.sock.setblocking(False)
        selector.register(client.sock, selectors.EVENT_READ, client)
    deadline = time.monotonic() + timeout_s
    while selector.get_map() and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            client = key.data
            try:
                data = client.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if data:
                client.received += data
                continue
            client.closed_after_s = time.monotonic() - client.opened
            client.trickle.set()
            selector.unregister(client.sock)
    selector.close()


@pytest.mark.slow
def test_slow_clients_are_cut_off_and_others_served(api: tuple[ServiceProcess, str]) -> None:
    process, base = api
    port = int(base.rsplit(":", 1)[1])
    clients = [open_slow(port, "short body", SHORT_BODY) for _ in range(60)]
    clients += [open_slow(port, "endless headers", ENDLESS_HEADERS) for _ in range(60)]
    clients += [open_slow(port, "silent", b"") for _ in range(20)]
    tricklers = [open_slow(port, "trickled body", UNREAD_BODY) for _ in range(5)]
    threads = [threading.Thread(target=keep_trickling, args=(c,), daemon=True) for c in tricklers]
    for thread in threads:
        thread.start()
    clients += tricklers
    try:
        # Everyone else is served while the slow connections are held.
        served = []
        with httpx.Client(base_url=base, timeout=10) as http:
            for i in range(20):
                started = time.monotonic()
                response = http.post("/v1/tasks/text.process", json={"data": f"n{i}"})
                served.append(time.monotonic() - started)
                assert response.status_code == 202, response.text
        wait_until_closed(clients, timeout_s=CLOSED_WITHIN_S + 5)
    finally:
        for client in clients:
            client.trickle.set()
            client.sock.close()
    for thread in threads:
        thread.join(timeout=5)

    by_kind: dict[str, list[float]] = {}
    for client in clients:
        where = f"{client.kind}: {client.received[:80]!r}"
        assert client.closed_after_s is not None, f"{where} still open"
        assert READ_TIMEOUT_S * 0.9 <= client.closed_after_s <= CLOSED_WITHIN_S, where
        if client.kind == "short body":
            assert client.received.startswith(b"HTTP/1.1 408 "), where
            assert b'{"detail":"request body not received within 2s"}' in client.received, where
        elif client.kind in ("endless headers", "silent"):
            assert client.received.startswith(b"HTTP/1.1 408 "), where
            assert b'{"detail":"request headers not received within 2s"}' in client.received, where
        else:  # the route answered before the body was complete, then the connection closed
            assert client.received.startswith(b"HTTP/1.1 200 "), where
        by_kind.setdefault(client.kind, []).append(client.closed_after_s)
    for kind, times in sorted(by_kind.items()):
        print(f"{kind}: {len(times)} closed after {min(times):.2f}-{max(times):.2f}s")
    print(f"normal submissions meanwhile: slowest {max(served) * 1000:.0f} ms")
    # The submissions cut off are counted (the route saw its body never come), not logged.
    rejected = sample_value(
        httpx.get(f"{base}/metrics").text,
        "tasklane_api_tasks_rejected_total",
        task="text.process",
        reason="body_not_received",
    )
    assert rejected == 60
    assert "Traceback" not in process.log()
