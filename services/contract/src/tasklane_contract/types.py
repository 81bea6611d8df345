"""Integer arguments: strict, and the published schema says so.

Argument models are strict: "5" is not 5, true is not 1, and a number written with a fraction
or an exponent (9.0, 1e3) is not an integer either. JSON Schema's `integer` alone would take
those (it counts any number without a fractional part), so each integer argument's schema adds
how it must be written, and what the schema promises is what validation does."""

from __future__ import annotations

from typing import Any

INTEGER_LITERAL = "Written as an integer: 1e3 or 9.0 is refused."


def integer_literal(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of an integer argument: its schema says how it must be written."""
    described = schema.get("description")
    schema["description"] = f"{described} {INTEGER_LITERAL}" if described else INTEGER_LITERAL
