"""The upstream HTTP pool: proxies, timeouts and refusals, on real sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gateway.errors import UpstreamTimeout, UpstreamUnavailable
from gateway.providers.upstream_http import UpstreamHTTP, read_body
from tests.live import free_port


def test_a_proxy_from_the_environment_is_used_unless_no_proxy_exempts_the_host(
    monkeypatch,
):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    http = UpstreamHTTP(connect_timeout=1)

    assert http._proxy_for("https://api.anthropic.com/v1/messages") == (
        "http://127.0.0.1:3128"
    )
    assert http._proxy_for("https://internal.example/v1/messages") is None
    assert http._proxy_for("http://api.anthropic.com/v1/messages") is None


async def post(http: UpstreamHTTP, port: int, *, read_timeout: float):
    return await http.post(
        f"http://127.0.0.1:{port}/v1/messages",
        body=b"{}",
        headers={},
        params=None,
        read_timeout=read_timeout,
    )


async def test_an_upstream_that_never_answers_is_a_timeout():
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    http = UpstreamHTTP(connect_timeout=1)
    try:
        with pytest.raises(UpstreamTimeout):
            await post(http, port, read_timeout=0.2)
    finally:
        await http.aclose()
        silent.close()


async def test_a_refused_connection_is_unavailable():
    http = UpstreamHTTP(connect_timeout=1)
    try:
        with pytest.raises(UpstreamUnavailable):
            await post(http, free_port(), read_timeout=1)
    finally:
        await http.aclose()


async def test_a_body_cut_short_is_unavailable():
    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    http = UpstreamHTTP(connect_timeout=1)
    try:
        response = await post(http, port, read_timeout=1)
        with pytest.raises(UpstreamUnavailable):
            await read_body(response)
    finally:
        await http.aclose()
        server.close()
