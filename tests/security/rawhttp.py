"""HTTP/1.1 over a bare socket, for what clients libraries will not send.

The body limit tests must send headers that promise more than they deliver,
and bodies in pieces with pauses between them, and see exactly when the
gateway answers; ``RawConnection`` does that and parses one response.
"""

from __future__ import annotations

import json
import select
import socket
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class RawConnection:
    def __init__(self, port: int, *, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.sent_body = 0

    def close(self) -> None:
        self.sock.close()

    def send_head(self, method: str, path: str, headers: dict[str, str]) -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send_body(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.sent_body += len(data)

    def send_chunk(self, data: bytes) -> None:
        self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        self.sent_body += len(data)

    def answered(self, wait: float = 0.0) -> bool:
        """Whether response bytes are waiting to be read."""
        if self.buffer:
            return True
        readable, _, _ = select.select([self.sock], [], [], wait)
        return bool(readable)

    def read_response(self) -> RawResponse:
        head = self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return RawResponse(status, headers, self._read_chunked())
        length = int(headers.get("content-length", "0"))
        return RawResponse(status, headers, self._read_exactly(length))

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self._read_until(b"\r\n").split(b";")[0], 16)
            body += self._read_exactly(size)
            self._read_exactly(2)
            if size == 0:
                return body

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_exactly(self, length: int) -> bytes:
        while len(self.buffer) < length:
            self._fill()
        data, self.buffer = self.buffer[:length], self.buffer[length:]
        return data

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection mid-response")
        self.buffer += data

    def closed_by_server(self, wait: float = 5.0) -> bool:
        """Whether the server closes the connection once the response is read."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
