"""A deadline on how long a client may take to send a request.

uvicorn closes a kept-alive connection that stays idle, but once a client has sent the first
byte of a request it waits for the rest for ever: headers that never end, or a body shorter
than its Content-Length, hold the connection (and a file descriptor) until the client leaves,
so a few hundred such clients take every connection the API has. uvicorn has no option for it,
and an ASGI app never sees unfinished headers.

This protocol is uvicorn's httptools protocol (the one it picks itself) with one timer: a
request whose headers, or whose body, are not all in after `read_timeout_s` gets `408` and its
connection is closed. The headers' time runs from the connection's start or from the request's
first byte, the body's from the end of the headers. A route that answered before the body was
in (a body it does not read, trickled in byte by byte) just has its connection closed.

The timer is armed only when a packet leaves a request unfinished: a request that arrives whole
in one read, which is nearly all of them, costs no timer at all.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class Awaiting(enum.Enum):
    HEADERS = "headers"
    BODY = "body"


class ReadDeadlineProtocol(HttpToolsProtocol):
    read_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting: Awaiting | None = Awaiting.HEADERS
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_for: Awaiting | None = None

    # uvicorn's parser callbacks say how far the current request has come.
    def on_message_begin(self) -> None:
        self._awaiting = Awaiting.HEADERS
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._awaiting = Awaiting.BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._awaiting = None
        super().on_message_complete()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._keep_deadline()  # a connection that sends nothing at all

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._keep_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _keep_deadline(self) -> None:
        """After each read: a timer for what the request still lacks, started when it first
        lacked it; none once nothing is missing."""
        if self._awaiting is None or self.transport.is_closing():
            self._cancel()
        elif self._deadline_for is not self._awaiting:
            self._cancel()
            self._deadline = self.loop.call_later(self.read_timeout_s, self._late)
            self._deadline_for = self._awaiting

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self._deadline_for = None

    def _late(self) -> None:
        awaiting, self._deadline, self._deadline_for = self._deadline_for, None, None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if awaiting is Awaiting.BODY:
            # A route that answered without waiting for the body has said all there is.
            may_answer = cycle is None or not cycle.response_started
        else:
            # Not while an earlier pipelined request's answer is still being written.
            may_answer = cycle is None or not cycle.response_started or cycle.response_complete
        if may_answer and awaiting is not None:
            detail = b'{"detail":"request %s not received within %gs"}' % (
                awaiting.value.encode(),
                self.read_timeout_s,
            )
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\n"
                b"content-type: application/json\r\n"
                b"content-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (len(detail), detail)
            )
        # The route still waiting on this body (if any) now reads a disconnect.
        self.transport.close()


def read_deadline_protocol(read_timeout_s: float) -> type[ReadDeadlineProtocol]:
    """The protocol class for uvicorn's `http=`, with the deadline in seconds."""
    return type("ReadDeadlineProtocol", (ReadDeadlineProtocol,), {"read_timeout_s": read_timeout_s})
