"""The OpenAPI description: complete, consistent, served, and true to the errors."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import get_resolver

from gateway.errors import InvalidRequest, PayloadTooLarge, RateLimited
from gateway.views.chat import render_openai_error
from gateway.views.rendering import render_anthropic_error
from tests.security.shapes import openapi, resolve, schema_errors


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if "$ref" in node else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def test_document_is_openapi_3_1():
    document = openapi()

    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "TokensGate"


def test_every_api_route_is_described():
    routes = {"/" + str(p.pattern) for p in get_resolver().url_patterns}
    api_routes = {route for route in routes if route.startswith("/v1/")}

    assert api_routes
    assert api_routes <= set(openapi()["paths"])


def test_every_reference_resolves():
    for ref in _refs(openapi()):
        assert resolve(ref), ref


def test_every_v1_error_status_has_the_surface_shape():
    for path, operations in openapi()["paths"].items():
        if not path.startswith("/v1/") or path == "/v1/models":
            continue
        expected = "Anthropic" if path.startswith("/v1/messages") else "OpenAI"
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert re.search(f"{expected}Error{status}$", response["$ref"])


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequest("bad", param="messages[0].role"),
        PayloadTooLarge(code="request_too_large"),
        RateLimited("slow down", retry_after=3, code="requests_per_minute_exceeded"),
    ],
)
def test_rendered_errors_match_the_documented_schemas(error):
    openai_body = json.loads(render_openai_error(error).content)
    anthropic_body = json.loads(
        render_anthropic_error(error, request_id="req_1").content
    )

    assert schema_errors(openai_body, "OpenAIError") == []
    assert schema_errors(anthropic_body, "AnthropicError") == []


@pytest.mark.django_db
async def test_document_is_served_at_openapi_json(async_client):
    response = await async_client.get("/openapi.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["openapi"] == "3.1.0"
