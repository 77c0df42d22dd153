"""Streaming load: time to first text and to completion, over keep-alive sockets.

wrk times a response only as a whole, so it cannot say when a stream's first
words arrived. This client holds N keep-alive connections for D seconds, each
sending one request after another, and times every request twice: until the
first event that carries generated text, and until the end of the body. HTTP/1.1
is spoken by hand on ``asyncio`` streams under uvloop, because the client must
cost far less than the server under test: about 0.1 ms of CPU per stream, as
measured below.

Generated text is found by scanning bytes for the start of a non-empty text
field, not by parsing JSON: Anthropic's ``content_block_delta`` carries it as
``"text_delta","text":"…"``, OpenAI's ``chat.completion.chunk`` as
``"delta":{"content":"…"}``. The empty ``content_block_start`` text and the
empty role chunk do not match. A non-streaming JSON answer matches when its
text arrives, so mixed runs get a (less meaningful) first-text time too.

Errors are counted by kind: ``status_<code>`` for a non-200 answer,
``broken`` for a connection reset or a body cut short, ``timeout``,
``no_text`` for a 200 answer with no generated text, and ``unterminated`` for
an event stream that ended without ``message_stop`` or ``[DONE]``.

A body may contain ``@unique@``, replaced by a fresh token on every request,
so that identical requests can be made to miss a cache.

What one client process can drive, measured on a shared 2-core machine with
the client pinned to one core and the server to the other, 64-token streams of
about 70 chunks, 8-second runs:

- against the stand-in directly: 900-1,450 streams/s at 1 connection and
  1,600-1,800 at 32, with the client at 36-48% of its core: the stand-in was
  the limit;
- against a server replaying a recorded stand-in stream from memory, the
  client's own ceiling: 3,200 streams/s at 1 connection (51% of a core) and
  7,600-9,700 at 32 (80-89%), i.e. about 0.1 ms of client CPU per stream.

``client_cpu_percent`` in every result shows the headroom: near 100 means one
process is saturated, and ``--processes K`` spreads the connections over K
processes whose samples are merged.

    .venv/bin/python bench/streamload.py http://127.0.0.1:8000/v1/messages \\
        -H 'x-api-key: bench' -H 'anthropic-version: 2023-06-01' \\
        --connections 32 --duration 10 --warmup 2
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import re
import secrets
import sys
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import uvloop

DEFAULT_BODY = json.dumps(
    {
        "model": "claude-haiku-4-5-20251001",
        "max_tokens": 256,
        "stream": True,
        "messages": [
            {
                "role": "user",
                "content": "Summarise the benefits of an API gateway in one paragraph.",
            }
        ],
    }
).encode()

# The opening quote must be followed by something other than the closing one,
# which skips the empty text of content_block_start and of the role chunk.
FIRST_TEXT = re.compile(rb'"(?:text|content)": ?"[^"]')
# A match can straddle two reads; this much of the previous read is kept.
MARKER_SPAN = 16
STREAM_ENDS = (b"message_stop", b"[DONE]")
END_SPAN = 64
UNIQUE = b"@unique@"
READ_LIMIT = 1 << 20
# Time for every process to open its connections before the clock starts.
START_DELAY = 0.5


@dataclass(frozen=True)
class Request:
    """One request a connection sends in turn; ``label`` groups its figures."""

    path: str
    body: bytes
    headers: dict[str, str]
    label: str = "request"


@dataclass
class Window:
    """The run's phases as ``perf_counter`` times, which are shared by every
    process on Linux (CLOCK_MONOTONIC), so forked workers agree on them."""

    start: float
    measure: float
    end: float


@dataclass
class Samples:
    """Raw figures of one process, merged across processes before summary."""

    first_text: dict[str, array] = field(default_factory=dict)
    completion: dict[str, array] = field(default_factory=dict)
    done: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    cpu_seconds: float = 0.0

    @classmethod
    def for_labels(cls, labels: Iterable[str]) -> Samples:
        samples = cls()
        for label in labels:
            samples.first_text.setdefault(label, array("d"))
            samples.completion.setdefault(label, array("d"))
        return samples

    def merge(self, other: Samples) -> None:
        for label, values in other.first_text.items():
            self.first_text.setdefault(label, array("d")).extend(values)
        for label, values in other.completion.items():
            self.completion.setdefault(label, array("d")).extend(values)
        self.done.update(other.done)
        self.errors.update(other.errors)
        self.cpu_seconds += other.cpu_seconds


@dataclass
class StreamResult:
    """A run's figures; ``labels`` holds the same per request in mixed runs."""

    requests_per_s: float
    first_text_p50_ms: float | None
    first_text_p99_ms: float | None
    completion_p50_ms: float | None
    completion_p99_ms: float | None
    count: int
    errors: int
    error_kinds: dict[str, int]
    client_cpu_percent: float
    labels: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        result = asdict(self)
        if not self.labels:
            del result["labels"]
        return result


class _Wire:
    """A request as bytes, rebuilt per send only when it has a unique token."""

    def __init__(self, request: Request, host: str) -> None:
        lines = [f"POST {request.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items()]
        self.head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode()
        self.body = request.body
        self.label = request.label
        self.unique = UNIQUE in request.body
        self.fixed = self._build(self.body)

    def bytes(self, tokens: itertools.count, prefix: str) -> bytes:
        if not self.unique:
            return self.fixed

        token = f"{prefix}-{next(tokens)}".encode()
        return self._build(self.body.replace(UNIQUE, token))

    def _build(self, body: bytes) -> bytes:
        return self.head + str(len(body)).encode() + b"\r\n\r\n" + body


class _BodyScan:
    """Watches the body go by: when text first appeared, how the stream ended."""

    __slots__ = ("first_text", "tail")

    def __init__(self) -> None:
        self.first_text: float | None = None
        self.tail = b""

    def feed(self, data: bytes, end: int) -> None:
        if self.first_text is None and (
            FIRST_TEXT.search(data, 0, end)
            or FIRST_TEXT.search(self.tail[-MARKER_SPAN:] + data[:MARKER_SPAN])
        ):
            self.first_text = time.perf_counter()

        if end >= END_SPAN:
            self.tail = data[end - END_SPAN : end]
        else:
            self.tail = (self.tail + data[:end])[-END_SPAN:]

    def terminated(self) -> bool:
        return any(marker in self.tail for marker in STREAM_ENDS)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one response went: ``failure`` is an error kind, or None."""

    first_text: float | None
    keep_alive: bool
    failure: str | None


async def _read_chunked(reader: asyncio.StreamReader, scan: _BodyScan) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            break

        data = await reader.readexactly(size + 2)
        scan.feed(data, size)

    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass


async def _read_length(
    reader: asyncio.StreamReader, length: int | None, scan: _BodyScan
) -> None:
    """Read ``length`` bytes, or to end of file when ``length`` is None."""
    remaining = length if length is not None else -1
    while remaining != 0:
        data = await reader.read(65536 if remaining < 0 else min(remaining, 65536))
        if not data:
            if length is None:
                return
            raise asyncio.IncompleteReadError(b"", remaining)

        scan.feed(data, len(data))
        remaining -= len(data) if remaining > 0 else 0


def _content_length(head: bytes) -> int | None:
    start = head.find(b"\r\ncontent-length:")
    if start < 0:
        return None

    start += len(b"\r\ncontent-length:")
    return int(head[start : head.index(b"\r\n", start)])


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wire: bytes
) -> _Outcome:
    """Send one request and read its whole response, whatever the status."""
    writer.write(wire)
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    scan = _BodyScan()
    length = _content_length(head)
    chunked = b"\r\ntransfer-encoding:" in head and b"chunked" in head
    if chunked:
        await _read_chunked(reader, scan)
    else:
        await _read_length(reader, length, scan)

    keep_alive = (
        head.startswith(b"http/1.1")
        and b"\r\nconnection: close" not in head
        and (chunked or length is not None)
    )
    return _Outcome(scan.first_text, keep_alive, _failure(head, scan))


def _failure(head: bytes, scan: _BodyScan) -> str | None:
    status = head[9:12]
    if status != b"200":
        return "status_" + status.decode()
    if scan.first_text is None:
        return "no_text"
    if b"\r\ncontent-type: text/event-stream" in head and not scan.terminated():
        return "unterminated"

    return None


class _Connection:
    """One keep-alive connection sending its share of the requests in turn."""

    def __init__(
        self,
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        address: tuple[str, int],
        samples: Samples,
        window: Window,
        timeout: float,
    ) -> None:
        self.reader: asyncio.StreamReader = streams[0]
        self.writer: asyncio.StreamWriter | None = streams[1]
        self.address = address
        self.samples = samples
        self.window = window
        self.timeout = timeout

    async def loop(self, wires: Sequence[_Wire], first: int, prefix: str) -> None:
        tokens = itertools.count()
        await asyncio.sleep(max(0.0, self.window.start - time.perf_counter()))
        for index in itertools.count(first):
            if time.perf_counter() >= self.window.end:
                return

            wire = wires[index % len(wires)]
            await self.send(wire, wire.bytes(tokens, prefix))

    async def send(self, wire: _Wire, data: bytes) -> None:
        started = time.perf_counter()
        try:
            if self.writer is None:
                await self.reconnect()
            async with asyncio.timeout(self.timeout):
                outcome = await _exchange(self.reader, self.writer, data)
        except TimeoutError:
            self.drop()
            self.record_error(wire.label, "timeout")
            return
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError):
            # IncompleteReadError is an EOFError; a garbled chunk size a ValueError.
            # The pause keeps a refused connection from spinning the loop.
            self.drop()
            self.record_error(wire.label, "broken")
            await asyncio.sleep(0.01)
            return

        if not outcome.keep_alive:
            self.drop()
        if outcome.failure is not None:
            self.record_error(wire.label, outcome.failure)
        else:
            self.record(wire.label, started, outcome.first_text)

    async def reconnect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            *self.address, limit=READ_LIMIT
        )

    def drop(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = None

    def record(self, label: str, started: float, first_text: float) -> None:
        finished = time.perf_counter()
        if not self.window.measure <= finished <= self.window.end:
            return

        self.samples.done[label] += 1
        if started >= self.window.measure:
            self.samples.first_text[label].append(first_text - started)
            self.samples.completion[label].append(finished - started)

    def record_error(self, label: str, kind: str) -> None:
        if self.window.measure <= time.perf_counter() <= self.window.end:
            self.samples.errors[label, kind] += 1


async def _drive(
    address: tuple[str, int],
    requests: Sequence[Request],
    connections: int,
    first: int,
    window: Window,
    timeout: float,
) -> Samples:
    samples = Samples.for_labels(request.label for request in requests)
    host = f"{address[0]}:{address[1]}"
    wires = [_Wire(request, host) for request in requests]
    prefix = secrets.token_hex(6)

    opened = await asyncio.gather(
        *(
            asyncio.open_connection(*address, limit=READ_LIMIT)
            for _ in range(connections)
        )
    )
    clients = [_Connection(s, address, samples, window, timeout) for s in opened]
    cpu = time.process_time()
    tasks = [
        asyncio.create_task(client.loop(wires, first + number, prefix))
        for number, client in enumerate(clients)
    ]

    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    for task in tasks:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    samples.cpu_seconds = time.process_time() - cpu
    for client in clients:
        client.drop()
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome

    return samples


def _measure(
    address: tuple[str, int],
    requests: Sequence[Request],
    connections: int,
    first: int,
    window: Window,
    timeout: float,
) -> Samples:
    """One process's share of the run, on its own uvloop event loop."""
    return uvloop.run(_drive(address, requests, connections, first, window, timeout))


def _percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None

    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1e3, 2)


def _figures(first_text: Sequence[float], completion: Sequence[float]) -> dict:
    return {
        "first_text_p50_ms": _percentile(first_text, 0.50),
        "first_text_p99_ms": _percentile(first_text, 0.99),
        "completion_p50_ms": _percentile(completion, 0.50),
        "completion_p99_ms": _percentile(completion, 0.99),
    }


def summarise(samples: Samples, window: Window) -> StreamResult:
    """Turn merged samples into rates and percentiles, per label when mixed."""
    seconds = window.end - window.measure
    labels: dict[str, dict] = {}
    for label in samples.first_text:
        errors = sum(n for (name, _), n in samples.errors.items() if name == label)
        labels[label] = {
            "count": samples.done[label],
            "errors": errors,
            **_figures(samples.first_text[label], samples.completion[label]),
        }

    kinds: Counter = Counter()
    for (_, kind), count in samples.errors.items():
        kinds[kind] += count
    everything = _figures(
        list(itertools.chain(*samples.first_text.values())),
        list(itertools.chain(*samples.completion.values())),
    )
    return StreamResult(
        requests_per_s=round(samples.done.total() / seconds, 1),
        **everything,
        count=samples.done.total(),
        errors=kinds.total(),
        error_kinds=dict(kinds),
        client_cpu_percent=round(
            100 * samples.cpu_seconds / (window.end - window.start), 1
        ),
        labels=labels if len(labels) > 1 else {},
    )


def run_requests(
    base_url: str,
    requests: Sequence[Request],
    *,
    connections: int = 1,
    duration: float = 10.0,
    warmup: float = 0.0,
    processes: int = 1,
    timeout: float = 60.0,
) -> StreamResult:
    """Load ``base_url`` with ``requests``, each connection cycling through them.

    Connection ``i`` starts at request ``i``, so every request is in flight
    from the first moment. Only requests that finish in the measured window
    (after ``warmup``) count toward the rate; only those that also started in
    it give latency samples. ``client_cpu_percent`` is per process summed, so
    with several processes it can exceed 100.
    """
    parts = urlsplit(base_url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    processes = max(1, min(processes, connections))
    start = time.perf_counter() + START_DELAY
    window = Window(start, start + warmup, start + warmup + duration)
    shares = [
        connections // processes + (i < connections % processes)
        for i in range(processes)
    ]
    firsts = list(itertools.accumulate(shares, initial=0))

    if processes == 1:
        samples = _measure(address, requests, connections, 0, window, timeout)
        return summarise(samples, window)

    # fork, not spawn: workers must be up within START_DELAY, and the benches
    # already depend on Linux (taskset, /proc).
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = [
            pool.submit(_measure, address, requests, share, first, window, timeout)
            for share, first in zip(shares, firsts, strict=False)
        ]
        samples = Samples()
        for future in futures:
            samples.merge(future.result())
    return summarise(samples, window)


def run(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    connections: int = 1,
    duration: float = 10.0,
    warmup: float = 0.0,
    processes: int = 1,
    timeout: float = 60.0,
) -> StreamResult:
    """POST ``body`` to ``url`` over and over; JSON content type unless overridden."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    request = Request(path, body, {"Content-Type": "application/json", **headers})
    return run_requests(
        f"{parts.scheme}://{parts.netloc}",
        [request],
        connections=connections,
        duration=duration,
        warmup=warmup,
        processes=processes,
        timeout=timeout,
    )


def _header(text: str) -> tuple[str, str]:
    name, separator, value = text.partition(":")
    if not separator:
        raise argparse.ArgumentTypeError(f"a header is 'name: value', not {text!r}")
    return name.strip(), value.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:8000/v1/messages")
    parser.add_argument(
        "--body",
        help="JSON text or @FILE; default: DEFAULT_BODY, a streamed one-paragraph ask",
    )
    parser.add_argument(
        "-H",
        "--header",
        type=_header,
        action="append",
        default=[],
        help="'name: value'",
    )
    parser.add_argument("-c", "--connections", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=0.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    body = DEFAULT_BODY
    if args.body is not None:
        is_file = args.body.startswith("@")
        body = Path(args.body[1:]).read_bytes() if is_file else args.body.encode()

    result = run(
        args.url,
        body,
        dict(args.header),
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        processes=args.processes,
        timeout=args.timeout,
    )
    json.dump(result.as_dict(), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
