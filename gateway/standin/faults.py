"""Scripted faults: what tests and benchmarks ask the stand-in to do wrong.

A fault is queued through ``POST /_control/faults`` and consumed by the next
matching requests, one use per request:

- ``status``: answer that HTTP status before any body, in the surface's
  error shape (with ``retry-after`` on 429 and 529).
- ``error_event``: a 200 stream that sends ``after_deltas`` content deltas,
  then an error in the stream's own format, and ends. A request that does
  not stream gets a 529 instead.
- ``drop``: reset the connection, before the headers when ``after_deltas``
  is 0 or the request does not stream, else after that many deltas.
- ``stall``: go silent for ``seconds``, before the headers for a request that
  does not stream, else after ``after_deltas`` deltas; then carry on.
- ``latency``: wait ``seconds`` before answering at all.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from gateway.standin.errors import invalid_request

logger = logging.getLogger(__name__)

KINDS = ("status", "error_event", "drop", "stall", "latency")
UNLIMITED = -1


@dataclass
class Fault:
    """One scripted fault and how many more requests it applies to."""

    kind: str
    path_prefix: str = "/"
    status: int = 529
    retry_after: float | None = 1
    after_deltas: int = 0
    seconds: float = 5.0
    count: int = 1
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Render the fault as the control API shows it."""
        return asdict(self)


def parse_fault(raw: Any) -> Fault:
    """Build a fault from its JSON form, refusing what it cannot mean."""
    if not isinstance(raw, dict):
        raise invalid_request("each fault must be a JSON object")

    unknown = set(raw) - set(Fault.__dataclass_fields__)
    if unknown:
        raise invalid_request(f"unknown fault fields: {', '.join(sorted(unknown))}")

    if raw.get("kind") not in KINDS:
        raise invalid_request(f"fault kind must be one of {', '.join(KINDS)}")

    fault = Fault(**raw)
    _check_fault(fault)

    return fault


def _check_fault(fault: Fault) -> None:
    if not isinstance(fault.status, int) or not 400 <= fault.status <= 599:
        raise invalid_request("fault status must be an integer from 400 to 599")
    if not isinstance(fault.after_deltas, int) or fault.after_deltas < 0:
        raise invalid_request("after_deltas must be a non-negative integer")
    if not _is_number(fault.seconds) or fault.seconds < 0:
        raise invalid_request("seconds must be a non-negative number")
    if fault.retry_after is not None and not _is_number(fault.retry_after):
        raise invalid_request("retry_after must be a number of seconds or null")
    if not isinstance(fault.count, int) or (fault.count < 1 and fault.count != -1):
        raise invalid_request("count must be a positive integer, or -1 for until reset")
    if not isinstance(fault.path_prefix, str) or not fault.path_prefix.startswith("/"):
        raise invalid_request("path_prefix must start with '/'")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class FaultQueue:
    """Faults waiting for requests, matched in the order they were queued."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, faults: list[Fault]) -> None:
        """Queue faults behind the ones already waiting."""
        self._faults.extend(faults)

    def clear(self) -> None:
        """Drop every waiting fault."""
        self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        """Render the waiting faults."""
        return [fault.as_dict() for fault in self._faults]

    def take(self, path: str) -> Fault | None:
        """Consume one use of the first fault that matches ``path``."""
        if not self._faults:
            return None

        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                break
        else:
            return None

        if fault.count != UNLIMITED:
            fault.count -= 1
            if fault.count == 0:
                self._faults.remove(fault)

        logger.info("standin applying %s fault to %s", fault.kind, path)
        return fault
