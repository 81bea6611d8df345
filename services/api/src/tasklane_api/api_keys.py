"""API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>` on every /v1 route when
TASKLANE_API_KEYS is set. Keys are compared as SHA-256 digests in constant time, against every
configured key without stopping at a match, so timing says nothing about any key."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request, status


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    def __init__(self, keys: list[str]) -> None:
        self._digests = [digest(k) for k in keys]

    @property
    def required(self) -> bool:
        return bool(self._digests)

    def accepts(self, presented: str) -> bool:
        candidate = digest(presented)
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(candidate, known)
        return matched


def presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        return credentials.strip() if scheme.lower() == "bearer" else None
    return request.headers.get("x-api-key")


def check_api_key(keys: ApiKeys, request: Request) -> None:
    """401 unless no key is configured or the request presents a known one."""
    if not keys.required:
        return
    key = presented_key(request)
    if key is None or not keys.accepts(key):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or unknown API key: send `Authorization: Bearer <key>` or `X-API-Key`",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def require_api_key(request: Request) -> None:
    check_api_key(request.app.state.services.api_keys, request)
