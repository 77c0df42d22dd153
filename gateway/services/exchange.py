"""The record of one client request as it moves through the pipeline.

Each pipeline step reads what earlier steps decided and adds its own decision,
so at settlement the exchange holds everything metrics, the request record and
the response headers need.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gateway.providers.base import UpstreamCall
from gateway.services.catalog import ModelInfo
from gateway.services.clients import ClientProfile
from gateway.services.pricing import Cost, Usage
from gateway.state.limits_store import Reservation

OPENAI = "openai"
ANTHROPIC = "anthropic"


@dataclass(eq=False)
class Exchange:
    request_id: str
    surface: str
    client: ClientProfile
    body: dict
    stream: bool
    raw_body: bytes | None = None
    anthropic_version: str | None = None
    anthropic_beta: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    # True when the client set no max_tokens: the routed model's default is
    # filled in before limits reserve output tokens.
    default_max_tokens: bool = False
    optimize_header: str | None = None
    cache_control_header: str = ""
    started: float = field(default_factory=time.monotonic)
    started_wall: float = field(default_factory=time.time)

    estimated_tokens: int = 0
    model: ModelInfo | None = None
    strategy: str = "explicit"
    tokens_saved: int = 0
    cache_status: str = "BYPASS"
    cache_key: str | None = None

    provider: str = "anthropic"
    served_model: str | None = None
    fallback: bool = False
    attempts: list[str] = field(default_factory=list)

    usage: Usage | None = None
    cost: Cost | None = None
    cost_avoided_nanos: int = 0
    status: int = 200
    error_type: str | None = None
    first_byte_at: float | None = None
    settled: bool = False
    response_headers: dict[str, str] = field(default_factory=dict)
    # What the limiter holds for this request until ``settle`` releases it.
    reservation: Reservation | None = None

    @property
    def body_changed(self) -> bool:
        """Whether the gateway rewrote the client's Anthropic body."""
        return self.raw_body is None

    def mark_body_changed(self) -> None:
        self.raw_body = None

    def upstream_call(self, body: dict | None = None) -> UpstreamCall:
        return UpstreamCall(
            body=self.body if body is None else body,
            request_id=self.request_id,
            raw_body=self.raw_body if body is None else None,
            anthropic_version=self.anthropic_version,
            anthropic_beta=self.anthropic_beta,
            query=self.query,
        )

    def latency_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000.0
