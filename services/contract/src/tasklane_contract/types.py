"""Argument types that validate the way their JSON Schema reads.

Argument models are strict (no "5" for 5, no true for 1), but JSON Schema calls 9.0 an
integer, so clients that send one get what the published schema promises."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator


def _json_integer(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # anything else is left to the strict int check


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
