"""Server-sent events: an incremental parser and an encoder.

The parser keeps each event's raw bytes beside its parsed parts, so the
Anthropic surface can relay upstream events byte for byte while the gateway
still reads usage from them in passing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson


@dataclass(slots=True)
class SSEEvent:
    name: str
    data: bytes
    raw: bytes

    def json(self) -> dict:
        return orjson.loads(self.data)


def encode_event(name: str, payload: dict) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _parse_block(block: bytes) -> SSEEvent | None:
    name = ""
    data_lines: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data_lines.append(line[5:].lstrip(b" "))
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", "replace")

    if not data_lines and not name:
        return None
    return SSEEvent(name=name, data=b"\n".join(data_lines), raw=block + b"\n\n")


async def iter_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[SSEEvent]:
    """Split a byte stream into events; a trailing partial event is dropped.

    A stream that ends mid-event was cut off: the caller notices the missing
    ``message_stop`` and treats the stream as interrupted.
    """
    buffer = b""
    async for chunk in chunks:
        buffer += chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
        while True:
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            block, buffer = buffer[:end], buffer[end + 2 :]
            event = _parse_block(block)
            if event is not None:
                yield event
