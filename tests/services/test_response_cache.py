"""The response cache: its key, its policy, what it stores, scoping and single flight."""

from __future__ import annotations

import pytest

from gateway.services.response_cache import (
    BYPASS,
    HIT,
    MISS,
    ResponseCache,
    cache_key,
    request_policy,
)
from gateway.state.backend import MemoryBackend, StoreUnavailable
from gateway.state.cache_store import MemoryCacheStore
from tests.services.cache_fakes import (
    BODY,
    HAIKU,
    FakeClock,
    Replica,
    client,
    exchange,
    message,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryCacheStore:
    return MemoryCacheStore(
        MemoryBackend(clock=clock), max_entry_bytes=64 * 1024, max_bytes=10**7
    )


@pytest.fixture
def cache(store: MemoryCacheStore, clock: FakeClock) -> ResponseCache:
    return Replica(store, clock).cache


def key_of(**changes: object) -> str:
    body = {**BODY, **changes}
    return cache_key(exchange(body))


# --- the key -----------------------------------------------------------------

BASE_KEY = key_of()

SPLITTING_CHANGES = {
    "system": {"system": [{"type": "text", "text": "You are verbose."}]},
    "messages": {"messages": [{"role": "user", "content": "What is 2 + 3?"}]},
    "tools": {"tools": [{"name": "calc", "input_schema": {"type": "object"}}]},
    "tool_choice": {"tool_choice": {"type": "any"}},
    "thinking": {"thinking": {"type": "enabled", "budget_tokens": 2048}},
    "temperature": {"temperature": 0.2},
    "top_p": {"top_p": 0.9},
    "top_k": {"top_k": 5},
    "stop_sequences": {"stop_sequences": ["\n\n"]},
    "max_tokens": {"max_tokens": 257},
    "output_config": {
        "output_config": {"format": {"type": "json_schema", "schema": {}}}
    },
    "service_tier": {"service_tier": "standard_only"},
    "an unknown field": {"container": "ctr_1"},
}


@pytest.mark.parametrize(
    "change", SPLITTING_CHANGES.values(), ids=SPLITTING_CHANGES.keys()
)
def test_each_parameter_that_changes_the_answer_splits_the_key(change):
    assert key_of(**change) != BASE_KEY


def test_the_routed_model_splits_the_key():
    assert cache_key(exchange(model=HAIKU)) != BASE_KEY


def test_an_alias_and_its_model_id_share_the_key():
    assert key_of(model="claude-sonnet-4-5") == BASE_KEY


def test_beta_features_split_the_key_in_any_order():
    one = cache_key(exchange(beta="a-2025, b-2025"))
    assert one != BASE_KEY
    assert one == cache_key(exchange(beta="b-2025,a-2025"))


def test_stream_and_metadata_do_not_split_the_key():
    assert key_of(stream=True, metadata={"user_id": "u-1"}) == BASE_KEY


def test_cache_control_markers_do_not_split_the_key():
    marked = {
        "system": [
            {
                "type": "text",
                "text": "You are terse.",
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is 2 + 2?"}]}
        ],
    }
    plain = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is 2 + 2?"}]}
        ]
    }
    marked["messages"][0]["content"][0]["cache_control"] = {
        "type": "ephemeral",
        "ttl": "1h",
    }

    assert key_of(**marked) == key_of(**plain)
    assert key_of(**marked, cache_control={"type": "ephemeral"}) == key_of(**plain)


def test_a_tool_schema_property_named_cache_control_still_splits_the_key():
    schema = {"type": "object", "properties": {"cache_control": {"type": "string"}}}
    with_property = key_of(tools=[{"name": "t", "input_schema": schema}])
    without = key_of(
        tools=[{"name": "t", "input_schema": {"type": "object", "properties": {}}}]
    )

    assert with_property != without


def test_key_order_does_not_split_the_key():
    reordered = dict(reversed(list(BODY.items())))
    assert cache_key(exchange(reordered)) == BASE_KEY


def test_each_client_has_its_own_key_unless_they_share_a_scope():
    mine = cache_key(exchange(who=client(1)))
    theirs = cache_key(exchange(who=client(2)))
    shared_a = cache_key(exchange(who=client(1, scope="team-a")))
    shared_b = cache_key(exchange(who=client(2, scope="team-a")))

    assert mine != theirs
    assert shared_a == shared_b != mine


# --- the policy --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "lookup", "store"),
    [
        ("", True, True),
        ("no-cache", False, True),
        ("No-Cache", False, True),
        ("no-store", False, False),
        ("no-cache, no-store", False, False),
        ("max-age=0, no-store", False, False),
        ("public", True, True),
    ],
)
def test_cache_control_request_header(header, lookup, store):
    policy = request_policy(header)
    assert (policy.lookup, policy.store) == (lookup, store)


# --- lookup and store --------------------------------------------------------


async def test_a_stored_answer_is_a_hit_for_the_same_request(cache):
    first = exchange()
    assert await cache.lookup(first) is None
    assert first.cache_status == MISS
    assert await cache.store(first, message()) is True

    second = exchange()
    assert await cache.lookup(second) == message()
    assert second.cache_status == HIT
    assert second.usage.output_tokens == 30
    assert second.served_model == message()["model"]


async def test_no_cache_skips_the_lookup_but_stores_the_answer(cache):
    first = exchange()
    await cache.lookup(first)
    await cache.store(first, message())

    fresh = exchange(cache_control="no-cache")
    assert await cache.lookup(fresh) is None
    assert fresh.cache_status == BYPASS
    newer = message(content=[{"type": "text", "text": "new"}])
    assert await cache.store(fresh, newer)

    assert (await cache.lookup(exchange()))["content"] == newer["content"]


async def test_no_store_neither_reads_nor_writes(cache):
    first = exchange()
    await cache.lookup(first)
    await cache.store(first, message())

    private = exchange(cache_control="no-store")
    assert await cache.lookup(private) is None
    assert private.cache_status == BYPASS
    assert await cache.store(private, message(content=[])) is False
    assert (await cache.lookup(exchange()))["content"] == message()["content"]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda ex, msg: setattr(ex, "fallback", True),
        lambda ex, msg: setattr(ex, "status", 502),
        lambda ex, msg: setattr(ex, "error_type", "overloaded_error"),
        lambda ex, msg: msg.update(stop_reason="pause_turn"),
        lambda ex, msg: msg.update(stop_reason="refusal"),
        lambda ex, msg: msg.update(stop_reason=None),
        lambda ex, msg: msg.update(type="error"),
    ],
    ids=[
        "fallback",
        "error-status",
        "error-type",
        "pause_turn",
        "refusal",
        "no-stop",
        "not-a-message",
    ],
)
async def test_failed_incomplete_or_fallback_answers_are_never_stored(cache, spoil):
    first, answer = exchange(), message()
    await cache.lookup(first)
    spoil(first, answer)

    assert await cache.store(first, answer) is False
    assert await cache.lookup(exchange()) is None


async def test_a_max_tokens_cut_is_stored_since_the_same_request_gets_the_same_cut(
    cache,
):
    first = exchange()
    await cache.lookup(first)

    assert await cache.store(first, message(stop_reason="max_tokens")) is True


async def test_an_answer_over_the_entry_limit_is_not_stored(clock):
    small = MemoryCacheStore(
        MemoryBackend(clock=clock), max_entry_bytes=1024, max_bytes=10**6
    )
    cache = Replica(small, clock).cache
    first = exchange()
    await cache.lookup(first)
    huge = message(
        content=[{"type": "text", "text": "x" * 2000}], stop_reason="end_turn"
    )

    assert await cache.store(first, huge) is False
    assert await cache.lookup(exchange()) is None


async def test_entries_expire_after_the_ttl(cache, clock):
    first = exchange()
    await cache.lookup(first)
    await cache.store(first, message())

    clock.now += 61
    assert await cache.lookup(exchange()) is None


async def test_clients_do_not_see_each_others_answers(cache):
    mine = exchange(who=client(1))
    await cache.lookup(mine)
    await cache.store(mine, message())

    theirs = exchange(who=client(2))
    assert await cache.lookup(theirs) is None
    assert theirs.cache_status == MISS


async def test_clients_in_a_shared_scope_share_answers(cache):
    mine = exchange(who=client(1, scope="team"))
    await cache.lookup(mine)
    await cache.store(mine, message())

    assert await cache.lookup(exchange(who=client(2, scope="team"))) == message()


async def test_a_store_outage_is_a_miss_and_never_an_error():
    class BrokenStore(MemoryCacheStore):
        async def get_or_lock(self, cache_key, *, lock_seconds):
            raise StoreUnavailable("down")

        async def set(self, cache_key, value, *, ttl_seconds, token=None):
            raise StoreUnavailable("down")

    broken = BrokenStore(MemoryBackend(), max_entry_bytes=1024, max_bytes=10**6)
    cache = ResponseCache(broken, ttl_seconds=60, lock_seconds=1)
    first = exchange()

    assert await cache.lookup(first) is None and first.cache_status == MISS
    assert await cache.store(first, message()) is False
    await cache.finish(first)
