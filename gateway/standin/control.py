"""The control API under ``/_control``, for tests and benchmarks.

- ``GET /_control/stats``: request counts, the bill, the recent requests.
- ``POST /_control/reset``: clear counts, faults, prompt cache and bill, and
  go back to the start-up settings.
- ``GET|POST /_control/faults``: list or queue faults (see :mod:`faults`).
- ``GET|POST /_control/config``: read or change ``latency_ms``,
  ``chunk_delay_ms`` and ``reply_tokens``.

Errors here are ``{"error": "..."}`` with status 400: these endpoints are the
stand-in's own, not an imitation of any vendor's.
"""

from __future__ import annotations

from typing import Any

from gateway.standin.asgi import Exchange, send_json
from gateway.standin.errors import invalid_request
from gateway.standin.faults import parse_fault

CONFIG_FIELDS: dict[str, type[float] | type[int]] = {
    "latency_ms": float,
    "chunk_delay_ms": float,
    "reply_tokens": int,
}


async def stats(exchange: Exchange) -> None:
    """Report counters, the bill and what the last requests carried."""
    state = exchange.state
    snapshot = state.stats.snapshot()
    snapshot["billing"] = state.ledger.snapshot()
    snapshot["faults_pending"] = state.faults.pending()
    snapshot["config"] = state.config.as_dict()

    await send_json(exchange.send, 200, snapshot)


async def reset(exchange: Exchange) -> None:
    """Forget everything the stand-in has seen and been told."""
    exchange.state.reset()

    await send_json(exchange.send, 200, {"reset": True})


async def faults(exchange: Exchange) -> None:
    """Queue the faults in ``{"faults": [...]}``; list them on GET."""
    queue = exchange.state.faults
    if exchange.request.method == "POST":
        body = _object_body(exchange)
        raw = body.get("faults")
        if not isinstance(raw, list):
            raise invalid_request('body must be {"faults": [...]}')
        queue.add([parse_fault(item) for item in raw])

    await send_json(exchange.send, 200, {"faults": queue.pending()})


async def config(exchange: Exchange) -> None:
    """Change run-time settings on POST; report them either way."""
    current = exchange.state.config
    if exchange.request.method == "POST":
        # Check every value before changing any, so a bad request changes
        # nothing.
        body = _object_body(exchange)
        changes = {name: _config_value(name, value) for name, value in body.items()}
        for name, value in changes.items():
            setattr(current, name, value)

    await send_json(exchange.send, 200, current.as_dict())


def _config_value(name: str, value: Any) -> float | int:
    kind = CONFIG_FIELDS.get(name)
    if kind is None:
        raise invalid_request(f"unknown setting {name!r}")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise invalid_request(f"{name} must be a non-negative number")
    if kind is int:
        if not isinstance(value, int):
            raise invalid_request(f"{name} must be an integer")
        return value

    return float(value)


def _object_body(exchange: Exchange) -> dict[str, Any]:
    body = exchange.request.json
    if not isinstance(body, dict):
        raise invalid_request("body must be a JSON object")

    return body
