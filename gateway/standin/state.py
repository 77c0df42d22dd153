"""Everything the stand-in remembers between requests, and its settings.

One :class:`StandinState` lives per application. It is only touched from the
server's event loop, so it needs no locks.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, replace
from typing import Any

from gateway.standin.asgi import Request
from gateway.standin.billing import BillingLedger
from gateway.standin.caching import PromptCache
from gateway.standin.catalog import is_local_model
from gateway.standin.faults import FaultQueue

RECENT_REQUESTS = 50


@dataclass
class StandinOptions:
    """Run-time settings, changeable through ``POST /_control/config``."""

    latency_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    reply_tokens: int = 64

    def as_dict(self) -> dict[str, Any]:
        """Render the settings as the control API shows them."""
        return asdict(self)


def surface_of(request: Request) -> str:
    """Say whether a request was meant for Anthropic or for Ollama.

    The stand-in serves both on one port. Ollama also answers Anthropic's
    /v1/messages for its own models, so the model decides there.
    """
    path = request.path
    if path.startswith("/api/") or path == "/v1/chat/completions":
        return "ollama"

    body = request.json if isinstance(request.json, dict) else {}
    return "ollama" if is_local_model(body.get("model")) else "anthropic"


class Stats:
    """Request counters and the recent requests, for tests to inspect."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.surfaces: Counter[str] = Counter()
        self.streams: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)

    def record(self, request: Request) -> None:
        """Count a request and keep what it carried."""
        self.requests[request.path] += 1
        self.surfaces[surface_of(request)] += 1
        self.recent.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "headers": request.headers,
                "body": request.json if request.has_json else None,
            }
        )

    def count_stream(self, outcome: str) -> None:
        """Count how a stream ended: completed, faulted or abandoned."""
        self.streams[outcome] += 1

    def snapshot(self) -> dict[str, Any]:
        """Render the counters, newest request last in ``recent_requests``."""
        return {
            "requests": dict(self.requests),
            "anthropic_requests": self.surfaces["anthropic"],
            "ollama_requests": self.surfaces["ollama"],
            "streams": {
                outcome: self.streams[outcome]
                for outcome in ("completed", "faulted", "abandoned")
            },
            "last_request": self.recent[-1] if self.recent else None,
            "recent_requests": list(self.recent),
        }


class RateWindow:
    """Fills ``anthropic-ratelimit-*`` headers from a one-minute window.

    The stand-in never limits anyone; the headers exist so the gateway's
    handling of them can be tested against realistic values.
    """

    REQUESTS_LIMIT = 4000
    TOKENS_LIMIT = 2_000_000

    def __init__(self) -> None:
        self._window = 0
        self._requests = 0
        self._tokens = 0
        self._reset = b""

    def count(self, tokens: int) -> list[tuple[bytes, bytes]]:
        """Count one request of ``tokens`` and return the headers to send."""
        window = int(time.time() // 60)
        if window != self._window:
            self._window, self._requests, self._tokens = window, 0, 0
            reset = time.gmtime((window + 1) * 60)
            self._reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", reset).encode()

        self._requests += 1
        self._tokens += tokens
        requests_left = max(self.REQUESTS_LIMIT - self._requests, 0)
        tokens_left = max(self.TOKENS_LIMIT - self._tokens, 0)

        return [
            (b"anthropic-ratelimit-requests-limit", b"%d" % self.REQUESTS_LIMIT),
            (b"anthropic-ratelimit-requests-remaining", b"%d" % requests_left),
            (b"anthropic-ratelimit-requests-reset", self._reset),
            (b"anthropic-ratelimit-tokens-limit", b"%d" % self.TOKENS_LIMIT),
            (b"anthropic-ratelimit-tokens-remaining", b"%d" % tokens_left),
            (b"anthropic-ratelimit-tokens-reset", self._reset),
        ]


class StandinState:
    """Settings, counters, faults, prompt cache and bill of one stand-in."""

    def __init__(self, options: StandinOptions) -> None:
        self.startup = replace(options)
        self.config = replace(options)
        self.stats = Stats()
        self.faults = FaultQueue()
        self.cache = PromptCache()
        self.ledger = BillingLedger()
        self.rates = RateWindow()

    def reset(self) -> None:
        """Forget everything and go back to the start-up settings."""
        self.config = replace(self.startup)
        self.stats = Stats()
        self.faults.clear()
        self.cache.clear()
        self.ledger = BillingLedger()
        self.rates = RateWindow()
