"""A gateway with small size and shape limits, shared by the security tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import LiveGateway, StandIn, gateway_env, start_gateway

STRICT_LIMITS = {
    # Small enough that fuzzed and hand-made bodies meet every limit.
    "MAX_REQUEST_BYTES": "16384",
    "MAX_MESSAGES": "4",
    "MAX_TOOLS": "3",
    "MAX_OUTPUT_TOKENS": "4096",
}


@pytest.fixture(scope="package")
def strict_gateway(
    live_dir: Path, standin: StandIn, ollama_standin: StandIn
) -> Iterator[LiveGateway]:
    """A live gateway with ``STRICT_LIMITS`` and a disabled client's key."""
    tmp = live_dir / "strict"
    env = gateway_env(
        tmp, anthropic_url=standin.url, ollama_url=ollama_standin.url, **STRICT_LIMITS
    )
    gateway = start_gateway(tmp, env, name="gateway-strict")
    gateway.disabled_key = gateway.create_client("strict-disabled")
    gateway.manage(
        "shell",
        "-c",
        (
            "from gateway.models import ApiClient; "
            "ApiClient.objects.filter(name='strict-disabled').update(is_active=False)"
        ),
    )
    yield gateway
    gateway.stop()
