"""Running the stand-in: in the foreground for the command, in a thread for tests.

Both bind the listening socket themselves before uvicorn starts, so the
port is known (and free) even when the caller asked for port 0.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn

from gateway.standin.app import StandinApp, build_app
from gateway.standin.state import StandinOptions

STARTUP_TIMEOUT_SECONDS = 10.0


def uvicorn_config(app: StandinApp) -> uvicorn.Config:
    """The server settings the benchmarks were measured with."""
    # Host and port are unused: the server is handed a bound socket.
    return uvicorn.Config(
        app,
        loop="auto",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
        # Clients pool connections for longer than uvicorn's default of 5 s;
        # a stand-in that closed them sooner than the real API would make
        # the gateway under test see resets that production never shows.
        timeout_keep_alive=75,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and return the listening socket for ``host:port``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)

    return sock


def socket_url(sock: socket.socket) -> str:
    """The base URL clients use for a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host

    return f"http://{shown}:{port}"


def run_standin(
    options: StandinOptions,
    *,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
) -> None:
    """Serve until interrupted; call ``on_ready(url)`` once listening."""
    sock = bind_socket(host, port)
    server = uvicorn.Server(uvicorn_config(build_app(options)))
    loop_factory = server.config.get_loop_factory()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve_announced(server, sock, on_ready))


async def _serve_announced(
    server: uvicorn.Server, sock: socket.socket, on_ready: Callable[[str], None]
) -> None:
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)

    if server.started:
        on_ready(socket_url(sock))
    await serving


class StandinServer:
    """The stand-in on a local port, in a background thread.

    Usage in tests::

        with StandinServer() as standin:
            client = Anthropic(base_url=standin.url, api_key="k")
    """

    def __init__(
        self,
        options: StandinOptions | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app = build_app(options)
        self._socket = bind_socket(host, port)
        self.url = socket_url(self._socket)
        self._server = uvicorn.Server(uvicorn_config(self.app))
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="standin",
            daemon=True,
        )

    def start(self) -> StandinServer:
        """Start serving and wait until the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the stand-in server did not start")
            time.sleep(0.005)

        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        # Force the exit: a request stalled by a fault would otherwise hold
        # up shutdown until its sleep ends.
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        self._socket.close()

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
