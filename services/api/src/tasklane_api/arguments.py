"""Reading a submission's body into the task's argument model, with errors a client can act on."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from tasklane_contract.spec import TaskSpec


class InvalidArguments(Exception):
    """Carries FastAPI-style error items: [{"loc": [...], "msg": ..., "type": ...}]."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def body_error(message: str, kind: str) -> InvalidArguments:
    return InvalidArguments([{"loc": ["body"], "msg": message, "type": kind}])


def parse_arguments(spec: TaskSpec, body: bytes) -> BaseModel:
    try:
        data = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError as exc:
        raise body_error(f"body is not valid JSON: {exc}", "json_invalid") from None
    if not isinstance(data, dict):
        raise body_error(
            f"body must be a JSON object of {spec.name}'s arguments", "model_attributes_type"
        )
    try:
        return spec.args_model.model_validate(data)
    except ValidationError as exc:
        raise InvalidArguments(
            [
                {"loc": ["body", *item["loc"]], "msg": item["msg"], "type": item["type"]}
                for item in exc.errors(
                    include_url=False, include_context=False, include_input=False
                )
            ]
        ) from None


def fingerprint(arguments: BaseModel) -> str:
    """Same arguments, same fingerprint, however the JSON was spaced or ordered."""
    canonical = orjson.dumps(arguments.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
