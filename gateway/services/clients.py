"""API clients: creating them, and authenticating keys on the request path.

Authentication must not query the database per request, so resolved keys are
kept in a short-lived in-process cache (``CLIENT_CACHE_SECONDS``). Admin edits
and revocations therefore reach every replica within that many seconds without
any cross-replica messaging.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.db import close_old_connections, transaction

from gateway.conf import config
from gateway.errors import AuthenticationFailed, PermissionDenied
from gateway.keys import display_prefix, generate_key, hash_key
from gateway.models import ApiClient

_NEGATIVE_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """What the request path needs to know about a client."""

    id: int
    name: str
    key_prefix: str
    requests_per_minute: int
    tokens_per_minute: int
    daily_budget_usd: Decimal | None
    monthly_budget_usd: Decimal | None
    max_concurrent_requests: int | None
    cache_scope: str
    optimization_mode: str

    @classmethod
    def from_model(cls, client: ApiClient) -> ClientProfile:
        return cls(
            id=client.pk,
            name=client.name,
            key_prefix=client.key_prefix,
            requests_per_minute=client.requests_per_minute,
            tokens_per_minute=client.tokens_per_minute,
            daily_budget_usd=client.daily_budget_usd,
            monthly_budget_usd=client.monthly_budget_usd,
            max_concurrent_requests=client.max_concurrent_requests,
            cache_scope=client.cache_scope or f"client:{client.pk}",
            optimization_mode=client.optimization_mode,
        )


def client_create(
    *,
    name: str,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
) -> tuple[ApiClient, str]:
    """Create a client and return it with its key, which is never stored."""
    key = generate_key()
    client = ApiClient(
        name=name, key_prefix=display_prefix(key), key_hash=hash_key(key)
    )
    if requests_per_minute is not None:
        client.requests_per_minute = requests_per_minute
    if tokens_per_minute is not None:
        client.tokens_per_minute = tokens_per_minute

    client.full_clean(exclude=["key_hash", "key_prefix"])
    client.save()
    return client, key


def client_rotate_key(*, client: ApiClient) -> str:
    """Give a client a new key; the old one stops working within seconds."""
    key = generate_key()
    client.key_prefix = display_prefix(key)
    client.key_hash = hash_key(key)
    client.save(update_fields=["key_prefix", "key_hash", "updated_at"])
    return key


class ClientDirectory:
    """Resolves gateway keys to client profiles through a TTL cache.

    The cache is keyed by the key's hash, never the key itself. Lookups compare
    hashes through a dict and a unique database index, so response time does
    not depend on how much of a guessed key was right.
    """

    def __init__(self, *, clock=time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, tuple[float, ClientProfile | None, bool]] = {}
        self._last_used: dict[int, float] = {}

    async def authenticate(self, key: str | None) -> ClientProfile:
        if not key:
            raise AuthenticationFailed(
                "Missing gateway key: send it as 'Authorization: Bearer <key>' "
                "or in the 'x-api-key' header."
            )

        profile, active = await self._lookup(hash_key(key))
        if profile is None:
            raise AuthenticationFailed("Invalid gateway key.")
        if not active:
            raise PermissionDenied("This gateway key has been disabled.")

        self._last_used[profile.id] = time.time()
        return profile

    def invalidate(self) -> None:
        self._entries.clear()

    def take_last_used(self) -> dict[int, float]:
        """Hand over the last-use times seen since the previous call."""
        seen, self._last_used = self._last_used, {}
        return seen

    async def _lookup(self, digest: str) -> tuple[ClientProfile | None, bool]:
        now = self.clock()
        cached = self._entries.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]

        profile, active = await _load_profile(digest)
        if profile is None and len(self._entries) >= _NEGATIVE_CACHE_LIMIT:
            # A flood of random keys must not grow memory without bound.
            self._entries.clear()
        self._entries[digest] = (now + config().CLIENT_CACHE_SECONDS, profile, active)
        return profile, active


@sync_to_async
def _load_profile(digest: str) -> tuple[ClientProfile | None, bool]:
    close_old_connections()
    client = ApiClient.objects.filter(key_hash=digest).first()
    if client is None:
        return None, False
    return ClientProfile.from_model(client), client.is_active


@sync_to_async
def clients_touch(*, last_used: dict[int, float]) -> None:
    """Persist last-use times in one transaction, off the request path."""
    with transaction.atomic():
        for client_id, seen in last_used.items():
            ApiClient.objects.filter(pk=client_id).update(
                last_used_at=datetime.fromtimestamp(seen, tz=UTC)
            )
