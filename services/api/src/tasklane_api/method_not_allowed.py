"""405 with an `Allow` header naming every method of the path. Starlette names only the
methods of the first route whose path matches, and `/v1/tasks/{name}` (POST) shares its shape
with `/v1/tasks/{id}` (GET, DELETE)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**request.scope, "method": "__NONE__"})
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


def install(app: FastAPI) -> None:
    async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {"detail": exc.detail},
            status_code=405,
            headers={"Allow": ", ".join(allowed_methods(app, request))},
        )

    app.add_exception_handler(405, method_not_allowed)
