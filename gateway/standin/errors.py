"""Errors the stand-in answers with, and their shape on each API surface.

Handlers raise :class:`StandinError`; the application renders it in the shape
of the surface the request came in on, so one validation helper serves the
Anthropic, OpenAI-compatible and native Ollama endpoints alike.
"""

from __future__ import annotations

from typing import Any

# Anthropic's error types by HTTP status, from its errors documentation.
# 503 is not in that table; the stand-in treats it like 529 so that a fault
# script can ask for either.
ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

DEFAULT_MESSAGES = {
    "invalid_request_error": "Invalid request.",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use this resource.",
    "not_found_error": "Not found.",
    "timeout_error": "Request timed out.",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of requests has exceeded your rate limit.",
    "api_error": "Internal server error.",
    "overloaded_error": "Overloaded",
}


def error_type_for(status: int) -> str:
    """Return Anthropic's error type for an HTTP status."""
    if status in ANTHROPIC_ERROR_TYPES:
        return ANTHROPIC_ERROR_TYPES[status]

    return "invalid_request_error" if status < 500 else "api_error"


class StandinError(Exception):
    """An error answer: HTTP status, Anthropic error type and message."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type or error_type_for(status)
        self.message = message or DEFAULT_MESSAGES.get(self.error_type, "Error.")
        self.retry_after = retry_after
        super().__init__(self.message)


def invalid_request(message: str) -> StandinError:
    """Build the 400 the API answers for a malformed request."""
    return StandinError(400, message)


def anthropic_error(error: StandinError, request_id: str) -> dict[str, Any]:
    """Render an error in the Anthropic Messages shape."""
    return {
        "type": "error",
        "error": {"type": error.error_type, "message": error.message},
        "request_id": request_id,
    }


def openai_error(error: StandinError) -> dict[str, Any]:
    """Render an error in the OpenAI shape that Ollama's /v1 endpoints use."""
    return {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": None,
            "code": None,
        }
    }


def ollama_error(error: StandinError) -> dict[str, Any]:
    """Render an error the way Ollama's native /api endpoints do: one string."""
    return {"error": error.message}
