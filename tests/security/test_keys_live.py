"""Keys against live gateways: revocation reaches every replica within seconds,
and last use is recorded without a database write per request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import LiveGateway, StandIn, gateway_env, start_gateway

pytestmark = pytest.mark.live

CACHE_SECONDS = 1.0


@pytest.fixture(scope="module")
def replicas(
    live_dir: Path, standin: StandIn, ollama_standin: StandIn
) -> Iterator[list[LiveGateway]]:
    """Two gateway processes over one database, caching clients for 1 s."""
    tmp = live_dir / "keys"
    env = gateway_env(
        tmp,
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        CLIENT_CACHE_SECONDS=str(CACHE_SECONDS),
        RECORD_FLUSH_SECONDS="0.2",
    )
    first = start_gateway(tmp, env, name="gateway-keys-1")
    second = start_gateway(tmp, env, name="gateway-keys-2", migrate=False)
    yield [first, second]
    first.stop()
    second.stop()


def _status(gateway: LiveGateway, key: str) -> int:
    response = httpx.get(
        f"{gateway.url}/v1/models",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    return response.status_code


def _shell(gateway: LiveGateway, code: str) -> str:
    """Run Python in ``manage.py shell``; the last line it printed."""
    output = gateway.manage("shell", "-c", code).strip()
    return output.splitlines()[-1] if output else ""


def test_a_disabled_key_is_refused_on_every_replica_within_seconds(replicas):
    key = replicas[0].create_client("to-revoke")
    assert [_status(gateway, key) for gateway in replicas] == [200, 200]

    _shell(
        replicas[0],
        (
            "from gateway.models import ApiClient; "
            "ApiClient.objects.filter(name='to-revoke').update(is_active=False)"
        ),
    )
    revoked_at = time.monotonic()

    pending = list(replicas)
    while pending and time.monotonic() - revoked_at < 5:
        pending = [gateway for gateway in pending if _status(gateway, key) != 403]
        time.sleep(0.05)
    elapsed = time.monotonic() - revoked_at

    assert not pending, "a replica still accepts the disabled key"
    assert elapsed <= CACHE_SECONDS + 1.0


def test_an_unknown_key_stays_unknown_and_a_new_one_works_at_once(replicas):
    assert _status(replicas[0], "tg_" + "Z" * 43) == 401

    key = replicas[0].create_client("brand-new")

    # A key nobody tried before is looked up in the database on first use.
    assert _status(replicas[1], key) == 200


def test_last_use_reaches_the_database(replicas):
    key = replicas[0].create_client("last-use")
    query = (
        "from gateway.models import ApiClient; "
        "print(ApiClient.objects.get(name='last-use').last_used_at)"
    )
    assert _shell(replicas[0], query) == "None"

    response = httpx.post(
        f"{replicas[0].url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "model": "claude-haiku-4-5",
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=30,
    )
    assert response.status_code == 200

    deadline = time.monotonic() + 10
    while _shell(replicas[0], query) == "None":
        assert time.monotonic() < deadline, "last_used_at was never written"
        time.sleep(0.2)
