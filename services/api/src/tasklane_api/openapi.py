"""The OpenAPI schema lists one submit operation per task, each with that task's argument
schema, so clients and generated SDKs see exactly what every task accepts. (One generic
`{name}` route serves them all; its own free-form entry is left out of the schema.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from tasklane_api.schemas import Problem, TaskAccepted
from tasklane_contract.spec import TaskSpec

REF_TEMPLATE = "#/components/schemas/{model}"

SUBMIT_RESPONSES: dict[str, tuple[str, str]] = {
    "202": ("TaskAccepted", "Accepted; `Location` names the task's status URL."),
    "408": ("Problem", "Not all sent within TASKLANE_REQUEST_READ_TIMEOUT_S; then closed."),
    "409": ("Problem", "Idempotency-Key reused with other arguments."),
    "413": ("Problem", "Body larger than TASKLANE_MAX_BODY_BYTES."),
    "422": ("Problem", "Arguments do not match the task's model."),
    "429": ("Problem", "Over TASKLANE_RATE_LIMIT_PER_MINUTE; see Retry-After."),
    "503": (
        "Problem",
        "Redis is unreachable, refuses the API's password, or is full; see Retry-After.",
    ),
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def ref(model_name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model_name)}


def component(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """`model`'s schema as a component, nested definitions hoisted beside it."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return ref(model.__name__)


def submit_operation(spec: TaskSpec, components: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": ["tasks"],
        "summary": f"Submit {spec.name}",
        "description": spec.description,
        "operationId": "submit_" + spec.name.replace(".", "_"),
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Repeat a submission safely: the same key returns the first id.",
                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": component(spec.args_model, components)}},
        },
        "responses": {
            code: {
                "description": description,
                "content": {
                    "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=name)}}
                },
            }
            for code, (name, description) in SUBMIT_RESPONSES.items()
        },
    }


def add_task_operations(schema: dict[str, Any], catalog: Mapping[str, TaskSpec]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    component(TaskAccepted, components)
    component(Problem, components)
    for spec in catalog.values():
        schema["paths"][f"/v1/tasks/{spec.name}"] = {"post": submit_operation(spec, components)}
    return schema


def require_keys(schema: dict[str, Any]) -> dict[str, Any]:
    """Every /v1 operation needs an API key and may answer 401."""
    schema["components"]["securitySchemes"] = SECURITY_SCHEMES
    unauthorized = {
        "description": "Missing or unknown API key.",
        "content": {"application/json": {"schema": ref("Problem")}},
    }
    for path, operations in schema["paths"].items():
        if path.startswith("/v1/"):
            for operation in operations.values():
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
                operation["responses"]["401"] = unauthorized
    return schema


def install(app: FastAPI, catalog: Mapping[str, TaskSpec], *, secured: bool) -> None:
    build_default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = add_task_operations(build_default(), catalog)
            app.openapi_schema = require_keys(schema) if secured else schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
