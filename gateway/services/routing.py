"""Cost-aware routing: which model serves a request.

``X-Route-Strategy`` picks the strategy. Without it, a real model name means
``explicit`` and ``auto`` (or no model) means ``auto``, which sends prompts
under ``ROUTER_THRESHOLD_TOKENS`` to ``CHEAP_MODEL`` and the rest to
``EXPENSIVE_MODEL``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.conf import config
from gateway.errors import InvalidRequest
from gateway.services.catalog import ModelCatalog, ModelInfo

STRATEGIES = ("auto", "cheap", "expensive", "explicit")
AUTO_MODEL_NAMES = ("", "auto")


@dataclass(frozen=True, slots=True)
class RouteDecision:
    model: ModelInfo
    strategy: str


def route_request(
    *,
    catalog: ModelCatalog,
    requested_model: str | None,
    strategy_header: str | None,
    estimated_tokens: int,
) -> RouteDecision:
    strategy = _strategy(strategy_header, requested_model)
    settings = config()

    if strategy == "explicit":
        if (requested_model or "") in AUTO_MODEL_NAMES:
            raise InvalidRequest(
                "X-Route-Strategy: explicit needs a model name.", param="model"
            )
        return RouteDecision(catalog.resolve(requested_model), strategy)
    if strategy == "cheap":
        return RouteDecision(catalog.resolve(settings.CHEAP_MODEL), strategy)
    if strategy == "expensive":
        return RouteDecision(catalog.resolve(settings.EXPENSIVE_MODEL), strategy)

    below = estimated_tokens < settings.ROUTER_THRESHOLD_TOKENS
    target = settings.CHEAP_MODEL if below else settings.EXPENSIVE_MODEL
    return RouteDecision(catalog.resolve(target), strategy)


def _strategy(header: str | None, requested_model: str | None) -> str:
    if header:
        strategy = header.strip().lower()
        if strategy not in STRATEGIES:
            raise InvalidRequest(
                f"X-Route-Strategy must be one of {', '.join(STRATEGIES)}.",
                param="X-Route-Strategy",
            )
        return strategy
    return "auto" if (requested_model or "") in AUTO_MODEL_NAMES else "explicit"
