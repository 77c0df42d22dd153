"""How answers leave the stand-in: latency, faults and paced streams.

Every surface hands its stream here as a list of :class:`Frame` objects, so
pacing (``chunk_delay_ms``) and mid-stream faults behave the same for
Anthropic SSE, OpenAI-style SSE and Ollama's NDJSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.standin.asgi import (
    Exchange,
    Receive,
    drop_connection,
    end_stream,
    send_chunk,
    start_stream,
)
from gateway.standin.errors import StandinError
from gateway.standin.faults import Fault


@dataclass(frozen=True)
class Frame:
    """One piece of a streamed body; ``delta`` marks content deltas."""

    data: bytes
    delta: bool = False


async def pause_before_answer(exchange: Exchange) -> None:
    """Wait the configured upstream latency, plus a ``latency`` fault's."""
    seconds = exchange.state.config.latency_ms / 1000
    fault = exchange.fault
    if fault is not None and fault.kind == "latency":
        seconds += fault.seconds

    if seconds > 0:
        await asyncio.sleep(seconds)


async def apply_fault_before_headers(exchange: Exchange) -> bool:
    """Act out the part of a fault that happens before any byte is sent.

    Returns True when the fault has disposed of the request (the connection
    was dropped); raises :class:`StandinError` for an error status.
    """
    fault = exchange.fault
    if fault is None:
        return False

    if fault.kind == "status":
        raise StandinError(fault.status, fault.message, retry_after=fault.retry_after)

    if fault.kind == "error_event" and not exchange.streaming:
        raise StandinError(529, fault.message, retry_after=fault.retry_after)

    before_stream = not exchange.streaming or fault.after_deltas == 0
    if fault.kind == "drop" and before_stream:
        await drop_connection(exchange.send)
        return True

    if fault.kind == "stall" and not exchange.streaming:
        await asyncio.sleep(fault.seconds)

    return False


async def pump_stream(
    exchange: Exchange,
    frames: Iterable[Frame],
    *,
    content_type: bytes,
    headers: list[tuple[bytes, bytes]],
    error_frame: bytes,
) -> bool:
    """Send a stream frame by frame; return whether it completed.

    ``error_frame`` is what an ``error_event`` fault sends before the stream
    ends, in the surface's own error format. A client that goes away ends
    the stream at once, as it ends generation upstream, and the outcome is
    counted in the stats so tests can check that the gateway let go.
    """
    await start_stream(exchange.send, content_type, headers)

    gone = asyncio.ensure_future(_client_gone(exchange.receive))
    try:
        outcome = await _send_frames(exchange, list(frames), error_frame, gone)
    finally:
        gone.cancel()

    exchange.state.stats.count_stream(outcome)
    return outcome == "completed"


async def _send_frames(
    exchange: Exchange,
    frames: list[Frame],
    error_frame: bytes,
    gone: asyncio.Future[None],
) -> str:
    fault_at = _fault_position(frames, exchange.fault)
    delay = exchange.state.config.chunk_delay_ms / 1000

    deltas_sent = 0
    for index, frame in enumerate(frames):
        if index == fault_at and not await _act_out(exchange, error_frame, gone):
            return "faulted"

        if frame.delta:
            if deltas_sent and delay > 0:
                await _sleep_unless(gone, delay)
            deltas_sent += 1

        if gone.done():
            return "abandoned"
        await send_chunk(exchange.send, frame.data)

    await end_stream(exchange.send)

    return "completed"


async def _client_gone(receive: Receive) -> None:
    """Return once the client has closed its connection."""
    while (await receive())["type"] != "http.disconnect":
        # More body after the request was read means a pipelining or
        # misbehaving client: keep listening, without spinning.
        await asyncio.sleep(0.01)


async def _sleep_unless(gone: asyncio.Future[None], seconds: float) -> None:
    """Sleep, but wake as soon as the client goes away."""
    await asyncio.wait([gone], timeout=seconds)


def _fault_position(frames: list[Frame], fault: Fault | None) -> int:
    """Index of the frame a mid-stream fault fires before, or -1."""
    if fault is None or fault.kind not in ("error_event", "drop", "stall"):
        return -1

    deltas = [index for index, frame in enumerate(frames) if frame.delta]
    if fault.after_deltas < len(deltas):
        return deltas[fault.after_deltas]

    # A reply shorter than the fault asks for still gets the fault, just
    # before the stream's closing frames.
    after_last = deltas[-1] + 1 if deltas else len(frames) - 1
    return min(after_last, len(frames) - 1)


async def _act_out(
    exchange: Exchange, error_frame: bytes, gone: asyncio.Future[None]
) -> bool:
    """Perform a mid-stream fault; return whether the stream goes on."""
    fault = exchange.fault
    if fault is None:
        return True

    if fault.kind == "stall":
        await _sleep_unless(gone, fault.seconds)
        return True

    if fault.kind == "drop":
        await drop_connection(exchange.send)
        return False

    await end_stream(exchange.send, error_frame)

    return False
