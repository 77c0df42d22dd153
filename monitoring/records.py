"""One settled exchange as a dashboard row and as a ``RequestRecord``.

Both are built from the same few fields of the exchange, chosen so that no
prompt, completion or key can leak: names, numbers and statuses only.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from decimal import Decimal

from gateway.services.exchange import Exchange
from monitoring.metrics import exchange_model, usd
from monitoring.models import RequestRecord

RECENT_KEPT = 100

_NANOS = Decimal(1).scaleb(-9)


def request_row(exchange: Exchange, *, latency_ms: float) -> dict:
    """The recent-requests table's row: what an operator scans for."""
    usage = exchange.usage
    return {
        "time": exchange.started_wall,
        "request_id": exchange.request_id,
        "client": exchange.client.name,
        "surface": exchange.surface,
        "model": exchange_model(exchange),
        "provider": exchange.provider,
        "status": exchange.status,
        "cache": exchange.cache_status,
        "fallback": exchange.fallback,
        "input_tokens": usage.input_tokens if usage else 0,
        "output_tokens": usage.output_tokens if usage else 0,
        "cached_tokens": usage.cache_read_tokens if usage else 0,
        "cost_usd": usd(exchange.cost.total_nanos) if exchange.cost else 0.0,
        "latency_ms": round(latency_ms, 1),
    }


def record_fields(exchange: Exchange, *, latency_ms: float) -> dict:
    """What the record needs, copied cheaply on the request path.

    Building the model instance (and its Decimals and datetime) costs ten times
    more, so ``build_record`` does it later, on the writer's thread.
    """
    usage, cost = exchange.usage, exchange.cost
    return {
        "time": exchange.started_wall,
        "client_id": exchange.client.id,
        "client_name": exchange.client.name[:100],
        "request_id": exchange.request_id[:128],
        "surface": exchange.surface,
        "model": exchange_model(exchange)[:100],
        "provider": exchange.provider,
        "strategy": exchange.strategy,
        "status": exchange.status,
        "error_type": exchange.error_type or "",
        "cache_status": exchange.cache_status,
        "input_tokens": usage.input_tokens if usage else 0,
        "output_tokens": usage.output_tokens if usage else 0,
        "cached_tokens": usage.cache_read_tokens if usage else 0,
        "cache_write_tokens": usage.cache_write_tokens if usage else 0,
        "tokens_saved": max(exchange.tokens_saved, 0),
        "cost_usd": cost.total_nanos if cost else 0,
        # Signed: a request that wrote Anthropic's prompt cache cost more than
        # it would have without the breakpoint, and totals must show it.
        "cost_avoided_usd": exchange.cost_avoided_nanos,
        "latency_ms": round(latency_ms, 3),
        "attempts": ",".join(exchange.attempts)[:255],
        "fallback": exchange.fallback,
    }


def build_record(fields: dict) -> RequestRecord:
    """The unsaved model from ``record_fields``: costs in nanos become USD."""
    return RequestRecord(
        **{
            **fields,
            "time": datetime.fromtimestamp(fields["time"], tz=UTC),
            "cost_usd": Decimal(fields["cost_usd"]) * _NANOS,
            "cost_avoided_usd": Decimal(fields["cost_avoided_usd"]) * _NANOS,
        }
    )


class RecentRequests:
    """The last requests this process settled, newest last."""

    def __init__(self, size: int = RECENT_KEPT) -> None:
        self._rows: deque[dict] = deque(maxlen=size)

    def add(self, row: dict) -> None:
        self._rows.append(row)

    def latest(self, count: int = 20) -> list[dict]:
        rows = list(self._rows)
        return rows[-count:] if count else []
