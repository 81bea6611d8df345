"""Reading a request body without ever holding more than the limit in memory."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is larger than {limit} bytes")
        self.limit = limit


class BodyNotReceived(Exception):
    """The connection closed before the whole body came: the client left, or it was too slow
    and the server cut it off (tasklane_api.slow_clients)."""


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)  # refuse before reading a byte
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():  # a chunked body has no Content-Length
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise BodyNotReceived("request body not received") from None
    return b"".join(chunks)
