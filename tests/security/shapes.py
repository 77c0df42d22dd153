"""Checks of response bodies against the schemas in docs/openapi.json.

A small validator for the part of JSON Schema the document uses (type,
const, enum, required, properties, items, oneOf, minItems, $ref), so the
tests need no schema library and the document stays the one source of what
an error body looks like.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


@cache
def openapi() -> dict:
    return json.loads(OPENAPI.read_text())


def schema_errors(value: Any, schema_name: str) -> list[str]:
    """What is wrong with ``value`` as an instance of a component schema."""
    errors: list[str] = []
    _check(value, {"$ref": f"#/components/schemas/{schema_name}"}, "$", errors)
    return errors


def error_schema_for(path: str, headers: dict[str, str]) -> str:
    """The error schema a request to ``path`` must be answered with."""
    anthropic = path.startswith("/v1/messages") or (
        path.startswith("/v1/models") and "anthropic-version" in headers
    )
    return "AnthropicError" if anthropic else "OpenAIError"


def resolve(ref: str) -> dict:
    node: Any = openapi()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _check(value: Any, schema: dict, where: str, errors: list[str]) -> None:
    if "$ref" in schema:
        _check(value, resolve(schema["$ref"]), where, errors)
        return
    if "oneOf" in schema:
        matches = [s for s in schema["oneOf"] if not _errors_of(value, s, where)]
        if len(matches) != 1:
            errors.append(f"{where}: matches {len(matches)} of oneOf")
        return

    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "type" in schema and not _has_type(value, schema["type"]):
        errors.append(f"{where}: expected {schema['type']}, got {type(value).__name__}")
        return

    if isinstance(value, dict):
        _check_object(value, schema, where, errors)
    if isinstance(value, list):
        _check_array(value, schema, where, errors)


def _check_object(value: dict, schema: dict, where: str, errors: list[str]) -> None:
    for name in schema.get("required", ()):
        if name not in value:
            errors.append(f"{where}: missing {name!r}")
    for name, subschema in schema.get("properties", {}).items():
        if name in value:
            _check(value[name], subschema, f"{where}.{name}", errors)


def _check_array(value: list, schema: dict, where: str, errors: list[str]) -> None:
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{where}: fewer than {schema['minItems']} items")
    if "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{index}]", errors)


def _errors_of(value: Any, schema: dict, where: str) -> list[str]:
    errors: list[str] = []
    _check(value, schema, where, errors)
    return errors


def _has_type(value: Any, expected: str | list[str]) -> bool:
    names = [expected] if isinstance(expected, str) else expected
    return any(_is(value, name) for name in names)


def _is(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])
