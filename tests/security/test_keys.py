"""Gateway keys: their form, how they are stored, looked up and revoked."""

from __future__ import annotations

import base64
import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from gateway.errors import AuthenticationFailed, PermissionDenied
from gateway.keys import KEY_PREFIX, generate_key, hash_key
from gateway.models import ApiClient
from gateway.services.clients import ClientDirectory, client_create, client_rotate_key

pytestmark = pytest.mark.django_db(transaction=True)

KEY_FORM = re.compile(r"^tg_[A-Za-z0-9_-]{43}$")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def directory(clock, settings) -> ClientDirectory:
    settings.TOKENSGATE = {**settings.TOKENSGATE, "CLIENT_CACHE_SECONDS": 5.0}
    return ClientDirectory(clock=clock)


def test_keys_are_recognisable_and_carry_256_random_bits():
    key = generate_key()

    assert key.startswith(KEY_PREFIX)
    assert KEY_FORM.match(key)
    assert len(base64.urlsafe_b64decode(key[3:] + "=")) == 32


def test_keys_do_not_repeat():
    assert len({generate_key() for _ in range(1000)}) == 1000


def test_only_the_hash_and_a_short_prefix_are_stored():
    client, key = client_create(name="stored")

    row = ApiClient.objects.values().get(pk=client.pk)
    assert row["key_hash"] == hash_key(key)
    assert row["key_prefix"] == key[:10]
    assert not any(key in str(value) for value in row.values())
    assert not any(key[10:20] in str(value) for value in row.values())


async def test_a_valid_key_authenticates(directory):
    client, key = await _create("valid")

    profile = await directory.authenticate(key)

    assert profile.id == client.pk


async def test_the_directory_holds_hashes_never_keys(directory):
    _, key = await _create("hashed")
    await directory.authenticate(key)
    await _refused(directory, "tg_" + "x" * 43, AuthenticationFailed)

    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in directory._entries)
    assert key not in repr(directory.__dict__)


def test_cached_lookups_make_no_database_query(directory, django_assert_num_queries):
    _, key = client_create(name="cached")
    async_to_sync(directory.authenticate)(key)

    with django_assert_num_queries(0):
        async_to_sync(directory.authenticate)(key)


async def test_unknown_and_missing_keys_are_refused(directory):
    await _refused(directory, None, AuthenticationFailed)
    await _refused(directory, "", AuthenticationFailed)
    await _refused(directory, "tg_" + "A" * 43, AuthenticationFailed)
    await _refused(directory, "sk-ant-api03-not-a-gateway-key", AuthenticationFailed)


async def test_refusals_never_echo_the_key(directory):
    guess = "tg_secretguess0123456789abcdefghijklmnopqrstuvw"

    error = await _refused(directory, guess, AuthenticationFailed)

    assert guess not in error.message and guess[3:13] not in error.message


async def test_revocation_takes_effect_once_the_cache_entry_expires(directory, clock):
    client, key = await _create("revoked")
    await directory.authenticate(key)
    await _set_active(client.pk, False)

    clock.now += 4.9
    await directory.authenticate(key)
    clock.now += 0.2
    await _refused(directory, key, PermissionDenied)


async def test_a_rotated_key_stops_working_and_the_new_one_works(directory, clock):
    client, old_key = await _create("rotated")
    await directory.authenticate(old_key)
    new_key = await _rotate(client.pk)

    clock.now += 5.1
    await _refused(directory, old_key, AuthenticationFailed)
    assert (await directory.authenticate(new_key)).id == client.pk


async def test_last_use_is_noted_in_memory_and_handed_over_once(directory):
    client, key = await _create("used")
    await directory.authenticate(key)
    await directory.authenticate(key)

    seen = directory.take_last_used()

    assert list(seen) == [client.pk]
    assert directory.take_last_used() == {}


async def test_a_flood_of_unknown_keys_keeps_the_cache_bounded(directory, monkeypatch):
    monkeypatch.setattr("gateway.services.clients._NEGATIVE_CACHE_LIMIT", 50)
    for number in range(120):
        await _refused(directory, f"tg_flood{number:040d}", AuthenticationFailed)

    assert len(directory._entries) <= 50


async def _refused(
    directory: ClientDirectory, key: str | None, kind: type
) -> Exception:
    with pytest.raises(kind) as caught:
        await directory.authenticate(key)
    return caught.value


async def _create(name: str):
    return await sync_to_async(client_create)(name=name)


async def _set_active(client_id: int, active: bool) -> None:
    await ApiClient.objects.filter(pk=client_id).aupdate(is_active=active)


async def _rotate(client_id: int) -> str:
    client = await ApiClient.objects.aget(pk=client_id)
    return await sync_to_async(client_rotate_key)(client=client)
