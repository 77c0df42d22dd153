"""Catalog entries for unit tests, at the seeded prices unless overridden."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from gateway.services.catalog import ModelInfo


def model_info(model_id: str, *aliases: str, **fields: object) -> ModelInfo:
    """A model priced at $1 per million tokens of every kind, unless overridden."""
    price = Decimal(1)
    defaults = {
        "provider": "anthropic",
        "input_price": price,
        "output_price": price,
        "cache_write_5m_price": price,
        "cache_write_1h_price": price,
        "cache_read_price": price,
        "min_cacheable_tokens": 1024,
        "max_output_tokens": 4096,
        "context_window": 200_000,
        "created": 0,
    }
    return ModelInfo(model_id=model_id, aliases=aliases, **{**defaults, **fields})


HAIKU = model_info(
    "claude-haiku-4-5-20251001",
    "claude-haiku-4-5",
    input_price=Decimal(1),
    output_price=Decimal(5),
    cache_write_5m_price=Decimal("1.25"),
    cache_write_1h_price=Decimal(2),
    cache_read_price=Decimal("0.10"),
    min_cacheable_tokens=4096,
)
SONNET = model_info(
    "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-5",
    input_price=Decimal(3),
    output_price=Decimal(15),
    cache_write_5m_price=Decimal("3.75"),
    cache_write_1h_price=Decimal(6),
    cache_read_price=Decimal("0.30"),
)

__all__ = ["HAIKU", "SONNET", "model_info", "replace"]
