"""A TCP proxy that can go silent: it stops forwarding without closing any socket, what a peer
that vanished (a node gone, a dropped route) looks like. Redis killed gives its clients a reset;
this gives them nothing at all, which only timeouts and health checks can notice."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from types import TracebackType


class SilentProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._live: set[tuple[socket.socket, socket.socket]] = set()
        self._silent = False
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def go_silent(self) -> None:
        """From now on nothing is forwarded, on the open connections or on new ones."""
        with self._lock:
            self._silent = True
            self._live.clear()

    def resume(self) -> None:
        """New connections are forwarded again; those that went silent stay silent."""
        with self._lock:
            self._silent = False

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            with self._lock:
                silent = self._silent
            if silent:
                continue  # accepted, never answered
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets.append(upstream)
            pair = (client, upstream)
            with self._lock:
                self._live.add(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, upstream = pair
        peers = {client: upstream, upstream: client}
        while not self._closed.is_set():
            try:
                readable, _, _ = select.select(list(peers), [], [], 0.2)
            except (OSError, ValueError):  # closed under it
                return
            for source in readable:
                try:
                    data = source.recv(65536)
                except OSError:
                    return
                with self._lock:
                    live = pair in self._live
                if not live:
                    continue  # swallowed: the connection is silent for good
                if not data:
                    with contextlib.suppress(OSError):
                        peers[source].shutdown(socket.SHUT_WR)
                    return
                with contextlib.suppress(OSError):
                    peers[source].sendall(data)

    def close(self) -> None:
        self._closed.set()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> SilentProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
