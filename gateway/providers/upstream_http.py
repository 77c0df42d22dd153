"""HTTP to the Anthropic API on aiohttp, one connection pool per event loop.

The anthropic SDK's own client (httpx2 over h11, both pure Python) cost about
1 ms of CPU per call on the benchmark machine, more than the rest of the
gateway; aiohttp parses HTTP in C and cost about a third of that for the same
request (docs/benchmarks.md). This module only moves bytes; the provider
decides what they say.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp

from gateway.errors import UpstreamTimeout, UpstreamUnavailable

# aiohttp's ServerTimeoutError is also an asyncio.TimeoutError; both mean the
# upstream went quiet for longer than the read timeout.
TIMEOUT_ERRORS = (asyncio.TimeoutError, aiohttp.ServerTimeoutError)


class UpstreamHTTP:
    """A pooled HTTP client for one upstream, safe to share across requests."""

    def __init__(self, *, connect_timeout: float, max_connections: int = 1000) -> None:
        self._connect_timeout = connect_timeout
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    async def post(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        read_timeout: float,
    ) -> aiohttp.ClientResponse:
        """Send a POST and return once the status and headers are in."""
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._connect_timeout, sock_read=read_timeout
        )
        try:
            return await self._current_session().post(
                url,
                data=body,
                headers=headers,
                params=params,
                timeout=timeout,
                proxy=self._proxy_for(url),
            )
        except TIMEOUT_ERRORS as exc:
            raise UpstreamTimeout() from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable("Could not connect to the upstream.") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _current_session(self) -> aiohttp.ClientSession:
        # A session's connections belong to the loop that opened them; a
        # process normally has one loop, but tests and management commands
        # may run several in turn.
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._session = self._new_session()
            self._loop = loop
        return self._session

    def _proxy_for(self, url: str) -> str | None:
        """HTTPS_PROXY / HTTP_PROXY unless NO_PROXY exempts the host.

        Read once per host: aiohttp's ``trust_env`` reads them again on every
        request, in a worker thread.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = proxy_bypass(key[1])
            self._proxies[key] = None if bypass else getproxies().get(key[0])
        return self._proxies[key]

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0, keepalive_timeout=30
        )
        return aiohttp.ClientSession(connector=connector, auto_decompress=True)


async def read_body(response: aiohttp.ClientResponse) -> bytes:
    """The whole body, with transport failures as gateway errors."""
    try:
        return await response.read()
    except TIMEOUT_ERRORS as exc:
        response.close()
        raise UpstreamTimeout() from exc
    except aiohttp.ClientError as exc:
        response.close()
        raise UpstreamUnavailable("The upstream connection failed.") from exc


async def iter_body(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Body chunks as they arrive; the caller maps the transport errors."""
    async for chunk in response.content.iter_any():
        yield chunk
