"""Typed access to the ``TOKENSGATE`` settings namespace.

``config()`` returns a frozen snapshot built once from ``settings.TOKENSGATE``;
tests that override settings get a fresh snapshot through the
``setting_changed`` signal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed


@dataclass(frozen=True)
class GatewayConfig:
    CLAUDE_API_KEY: str | None
    ANTHROPIC_BASE_URL: str
    ANTHROPIC_VERSION: str
    UPSTREAM_CONNECT_TIMEOUT: float
    UPSTREAM_READ_TIMEOUT: float
    STREAM_IDLE_TIMEOUT: float
    REQUEST_DEADLINE_SECONDS: float
    CHEAP_MODEL: str
    EXPENSIVE_MODEL: str
    ROUTER_THRESHOLD_TOKENS: int
    RATE_LIMIT_REQUESTS_PER_MIN: int
    RATE_LIMIT_TOKENS_PER_MIN: int
    CIRCUIT_BREAKER_ENABLED: bool
    CB_FAILURE_THRESHOLD: int
    CB_WINDOW_SECONDS: float
    CB_COOLDOWN_SECONDS: float
    MAX_RETRIES: int
    OLLAMA_BASE_URL: str
    OLLAMA_MODEL: str
    OLLAMA_FALLBACK_ENABLED: bool
    OLLAMA_CONTEXT_TOKENS: int
    CACHE_ENABLED: bool
    CACHE_TTL_SECONDS: int
    CACHE_MAX_ENTRY_BYTES: int
    CACHE_MEMORY_MAX_BYTES: int
    CACHE_LOCK_SECONDS: float
    OPTIMIZE_TRIM_BUDGET_TOKENS: int
    MAX_REQUEST_BYTES: int
    MAX_MESSAGES: int
    MAX_TOOLS: int
    MAX_OUTPUT_TOKENS: int
    CLIENT_CACHE_SECONDS: float
    REDIS_URL: str | None
    REDIS_TIMEOUT_SECONDS: float
    REDIS_COOLDOWN_SECONDS: float
    EXPECTED_REPLICAS: int
    METRICS_TOKEN: str | None
    RECORD_FLUSH_SECONDS: float


@lru_cache(maxsize=1)
def config() -> GatewayConfig:
    values = settings.TOKENSGATE
    return GatewayConfig(**{f.name: values[f.name] for f in fields(GatewayConfig)})


def _reset(setting: str, **kwargs: object) -> None:
    if setting == "TOKENSGATE":
        config.cache_clear()


setting_changed.connect(_reset)
