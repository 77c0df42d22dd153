"""A fake Anthropic upstream that replays recorded event streams verbatim.

The stand-in renders its own streams; this server instead sends the bytes of a
stream recorded from the real API, so a test can check that what arrives
through the gateway is exactly what Anthropic sent. The request's last user
text names the recording to replay (a file in ``fixtures/``).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Small pieces that cut through event boundaries, as a network would.
CHUNK_BYTES = 41


def recording(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class _ReplayHandler(BaseHTTPRequestHandler):
    # HTTP/1.0: the body ends when the connection closes, like a stream whose
    # length nobody knows in advance.
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append({"path": self.path, "headers": dict(self.headers)})

        data = recording(_last_user_text(body))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("request-id", "req_replay")
        self.end_headers()
        for start in range(0, len(data), CHUNK_BYTES):
            self.wfile.write(data[start : start + CHUNK_BYTES])
            self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        return None


def _last_user_text(body: dict) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else content[-1]["text"]


class ReplayUpstream:
    """The server on a free loopback port, in a background thread."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _ReplayHandler)
        self.server.requests = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ReplayUpstream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
