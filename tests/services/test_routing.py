"""Cost-aware routing: strategies, the token threshold, aliases, and the headers."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidRequest, NotFound
from gateway.services.catalog import ModelCatalog, ModelInfo
from gateway.services.clients import ClientProfile
from gateway.services.exchange import Exchange
from gateway.services.pipeline import Gateway
from gateway.services.routing import route_request
from gateway.views.headers import exchange_headers
from tests.model_fixtures import model_info

CHEAP = "claude-haiku-4-5-20251001"
EXPENSIVE = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-5-20251101"


def model(model_id: str, *aliases: str) -> ModelInfo:
    return model_info(model_id, *aliases)


@pytest.fixture
def catalog() -> ModelCatalog:
    catalog = ModelCatalog()
    catalog.load(
        [
            model(CHEAP, "claude-haiku-4-5"),
            model(EXPENSIVE, "claude-sonnet-4-5"),
            model(OPUS, "claude-opus-4-5"),
        ]
    )
    return catalog


@pytest.fixture(autouse=True)
def router_settings(settings):
    settings.TOKENSGATE = {
        **settings.TOKENSGATE,
        "CHEAP_MODEL": CHEAP,
        "EXPENSIVE_MODEL": EXPENSIVE,
        "ROUTER_THRESHOLD_TOKENS": 500,
    }
    return settings


def route(catalog, model_name=None, header=None, tokens=100):
    return route_request(
        catalog=catalog,
        requested_model=model_name,
        strategy_header=header,
        estimated_tokens=tokens,
    )


@pytest.mark.parametrize("model_name", [None, "", "auto"])
def test_no_model_or_auto_means_auto_routing(catalog, model_name):
    decision = route(catalog, model_name, tokens=10)
    assert (decision.strategy, decision.model.model_id) == ("auto", CHEAP)


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [(0, CHEAP), (499, CHEAP), (500, EXPENSIVE), (9000, EXPENSIVE)],
)
def test_auto_sends_prompts_under_the_threshold_to_the_cheap_model(
    catalog, tokens, expected
):
    assert route(catalog, "auto", tokens=tokens).model.model_id == expected


def test_the_threshold_comes_from_settings(catalog, router_settings):
    router_settings.TOKENSGATE = {
        **router_settings.TOKENSGATE,
        "ROUTER_THRESHOLD_TOKENS": 50,
    }
    assert route(catalog, "auto", tokens=60).model.model_id == EXPENSIVE


def test_a_real_model_name_means_explicit(catalog):
    decision = route(catalog, OPUS, tokens=10)
    assert (decision.strategy, decision.model.model_id) == ("explicit", OPUS)


def test_aliases_resolve_to_dated_ids(catalog):
    assert route(catalog, "claude-sonnet-4-5", tokens=10).model.model_id == EXPENSIVE


@pytest.mark.parametrize(
    ("header", "expected"),
    [("cheap", CHEAP), ("expensive", EXPENSIVE), (" Cheap ", CHEAP)],
)
def test_cheap_and_expensive_override_the_requested_model(catalog, header, expected):
    decision = route(catalog, OPUS, header=header, tokens=10_000)
    assert (decision.strategy, decision.model.model_id) == (
        header.strip().lower(),
        expected,
    )


def test_auto_header_ignores_the_requested_model(catalog):
    decision = route(catalog, OPUS, header="auto", tokens=10)
    assert (decision.strategy, decision.model.model_id) == ("auto", CHEAP)


def test_explicit_header_uses_the_requested_model(catalog):
    decision = route(catalog, "claude-opus-4-5", header="explicit", tokens=10)
    assert (decision.strategy, decision.model.model_id) == ("explicit", OPUS)


def test_explicit_without_a_model_is_refused(catalog):
    with pytest.raises(InvalidRequest) as caught:
        route(catalog, "auto", header="explicit")
    assert caught.value.param == "model"


def test_an_unknown_strategy_is_refused(catalog):
    with pytest.raises(InvalidRequest) as caught:
        route(catalog, OPUS, header="fastest")
    assert caught.value.param == "X-Route-Strategy"
    assert "auto, cheap, expensive, explicit" in caught.value.message


def test_an_unknown_model_is_not_found(catalog):
    with pytest.raises(NotFound) as caught:
        route(catalog, "gpt-4o")
    assert caught.value.code == "model_not_found"


def test_configured_models_may_be_aliases(catalog, router_settings):
    router_settings.TOKENSGATE = {
        **router_settings.TOKENSGATE,
        "CHEAP_MODEL": "claude-haiku-4-5",
    }
    assert route(catalog, "auto", tokens=10).model.model_id == CHEAP


CLIENT = ClientProfile(
    id=1,
    name="app",
    key_prefix="tg",
    requests_per_minute=0,
    tokens_per_minute=0,
    daily_budget_usd=None,
    monthly_budget_usd=None,
    max_concurrent_requests=None,
    cache_scope="client:1",
    optimization_mode="safe",
)


def openai_exchange(model_name: str, text: str = "Hello") -> Exchange:
    body = {
        "model": model_name,
        "max_tokens": 10,
        "messages": [{"role": "user", "content": text}],
    }
    return Exchange(
        request_id="r", surface="openai", client=CLIENT, body=body, stream=False
    )


@pytest.mark.django_db
async def test_admit_routes_with_the_seeded_catalog_and_reports_the_decision():
    gateway = Gateway(catalog=ModelCatalog(), clients=None, dispatcher=None)
    exchange = openai_exchange("auto")

    await gateway.admit(exchange, requested_model="auto", strategy_header=None)

    assert exchange.body["model"] == CHEAP
    headers = exchange_headers(exchange, {})
    assert headers["X-TokensGate-Model"] == CHEAP
    assert headers["X-TokensGate-Strategy"] == "auto"


@pytest.mark.django_db
async def test_a_long_prompt_goes_to_the_expensive_model():
    gateway = Gateway(catalog=ModelCatalog(), clients=None, dispatcher=None)
    exchange = openai_exchange("auto", "word " * 2000)

    await gateway.admit(exchange, requested_model="auto", strategy_header=None)

    assert (exchange.model.model_id, exchange.strategy) == (EXPENSIVE, "auto")


@pytest.mark.django_db
async def test_an_alias_on_the_openai_surface_is_sent_as_the_dated_id():
    gateway = Gateway(catalog=ModelCatalog(), clients=None, dispatcher=None)
    exchange = openai_exchange("claude-sonnet-4-5")

    await gateway.admit(
        exchange, requested_model="claude-sonnet-4-5", strategy_header=None
    )

    assert exchange.body["model"] == EXPENSIVE
    assert exchange_headers(exchange, {})["X-TokensGate-Strategy"] == "explicit"


def test_the_model_header_reports_the_model_that_answered(catalog):
    exchange = openai_exchange("auto")
    exchange.model, exchange.strategy = catalog.resolve(CHEAP), "auto"
    exchange.served_model = "llama3.2:1b"

    assert exchange_headers(exchange, {})["X-TokensGate-Model"] == "llama3.2:1b"


def test_cheap_routing_reported_even_before_any_answer(catalog):
    exchange = openai_exchange(OPUS)
    decision = route(catalog, OPUS, header="cheap")
    exchange.model, exchange.strategy = decision.model, decision.strategy

    headers = exchange_headers(exchange, {})
    assert (headers["X-TokensGate-Model"], headers["X-TokensGate-Strategy"]) == (
        CHEAP,
        "cheap",
    )
