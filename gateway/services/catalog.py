"""The model catalog: an in-process snapshot of the ``ModelPrice`` table.

Routing, pricing and ``/v1/models`` read the snapshot, which is reloaded from
the database at most every few seconds, so price edits in admin take effect
quickly without a query per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from gateway.errors import NotFound
from gateway.models import ModelPrice

REFRESH_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str
    provider: str
    aliases: tuple[str, ...]
    input_price: Decimal
    output_price: Decimal
    cache_write_5m_price: Decimal
    cache_write_1h_price: Decimal
    cache_read_price: Decimal
    min_cacheable_tokens: int
    max_output_tokens: int
    context_window: int
    created: int

    @classmethod
    def from_model(cls, row: ModelPrice) -> ModelInfo:
        return cls(
            model_id=row.model_id,
            provider=row.provider,
            aliases=tuple(row.aliases or ()),
            input_price=row.input_price,
            output_price=row.output_price,
            cache_write_5m_price=row.cache_write_5m_price,
            cache_write_1h_price=row.cache_write_1h_price,
            cache_read_price=row.cache_read_price,
            min_cacheable_tokens=row.min_cacheable_tokens,
            max_output_tokens=row.max_output_tokens,
            context_window=row.context_window,
            created=int(row.updated_at.timestamp()) if row.updated_at else 0,
        )


class ModelCatalog:
    def __init__(self, *, clock=time.monotonic) -> None:
        self.clock = clock
        self._models: dict[str, ModelInfo] = {}
        self._names: dict[str, ModelInfo] = {}
        self._expires = 0.0

    async def refresh_if_stale(self) -> None:
        if self.clock() < self._expires:
            return

        rows = await _load_active_models()
        self.load(rows)
        self._expires = self.clock() + REFRESH_SECONDS

    def load(self, models: list[ModelInfo]) -> None:
        names: dict[str, ModelInfo] = {}
        for info in models:
            names[info.model_id] = info
            for alias in info.aliases:
                names.setdefault(alias, info)
        self._models = {info.model_id: info for info in models}
        self._names = names

    def resolve(self, name: str) -> ModelInfo:
        info = self._names.get(name)
        if info is None:
            raise NotFound(
                f"The model '{name}' does not exist or is not enabled on this gateway.",
                param="model",
                code="model_not_found",
            )
        return info

    def find(self, name: str) -> ModelInfo | None:
        return self._names.get(name)

    def models(self) -> list[ModelInfo]:
        return list(self._models.values())


@sync_to_async
def _load_active_models() -> list[ModelInfo]:
    close_old_connections()
    rows = ModelPrice.objects.filter(is_active=True)
    return [ModelInfo.from_model(row) for row in rows]
