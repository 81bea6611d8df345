"""The two routes clients call most, `POST /v1/tasks/{name}` and `GET /v1/tasks/{id}`, served
by a plain ASGI middleware in front of FastAPI's router.

On these two routes FastAPI's per-request machinery (matching against every route, solving
dependencies, validating the returned model again, its exception and exit-stack middleware)
cost more than the work itself: a status read is one Redis round trip. This middleware
recognises exactly those two requests and answers them with the same functions the FastAPI
routes call (tasklane_api.task_requests), after the same API key check, so the status codes,
bodies and headers are the same either way. Everything else goes on to FastAPI, including a
path parameter FastAPI would refuse, and FastAPI stays the source of the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.exception_handlers import http_exception_handler
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tasklane_api.api_keys import check_api_key
from tasklane_api.dependencies import Services
from tasklane_api.task_requests import (
    TASK_ID_MAX_LENGTH,
    TASK_NAME_MAX_LENGTH,
    submit_task_request,
    task_status_request,
)
from tasklane_api.unavailable import BROKER_UNAVAILABLE, unavailable_response

TASKS_PREFIX = "/v1/tasks/"
SUBMIT, STATUS = "submit", "status"
JSON = "application/json"


def hot_route(method: str, path: str) -> tuple[str, str] | None:
    """(SUBMIT, name) or (STATUS, task id) for a request this middleware answers; None for
    anything else, including a parameter FastAPI would refuse with its own 422."""
    if not path.startswith(TASKS_PREFIX):
        return None
    parameter = path[len(TASKS_PREFIX) :]
    if not parameter or "/" in parameter:
        return None
    if method == "POST" and len(parameter) <= TASK_NAME_MAX_LENGTH:
        return SUBMIT, parameter
    if method == "GET" and len(parameter) <= TASK_ID_MAX_LENGTH:
        return STATUS, parameter
    return None


def route_for(router: APIRouter, method: str, path: str) -> APIRoute:
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise LookupError(f"no {method} {path} route to serve")


class HotRoutes:
    def __init__(self, app: ASGIApp, routes: APIRouter) -> None:
        self.app = app
        # The FastAPI routes these requests belong to: the request metrics label them by
        # their path template, as for every other route.
        self.routes = {
            SUBMIT: route_for(routes, "POST", TASKS_PREFIX + "{name}"),
            STATUS: route_for(routes, "GET", TASKS_PREFIX + "{task_id}"),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = None
        if scope["type"] == "http" and not scope.get("root_path"):
            hot = hot_route(scope["method"], scope["path"])
        if hot is None:
            await self.app(scope, receive, send)
            return
        kind, parameter = hot
        scope["route"] = self.routes[kind]
        request = Request(scope, receive)
        services: Services = scope["app"].state.services
        try:
            check_api_key(services.api_keys, request)
            if kind == SUBMIT:
                idempotency_key = request.headers.get("idempotency-key")
                accepted, headers = await submit_task_request(
                    services, parameter, request, idempotency_key
                )
                response = Response(
                    accepted.model_dump_json(), status_code=202, headers=headers, media_type=JSON
                )
            else:
                found = await task_status_request(services, parameter)
                response = Response(found.model_dump_json(), media_type=JSON)
        except HTTPException as exc:
            response = await http_exception_handler(request, exc)  # FastAPI's own answer
        except BROKER_UNAVAILABLE as exc:
            response = unavailable_response(
                exc, services.redis_health, services.settings.retry_after_s
            )
        await response(scope, receive, send)
