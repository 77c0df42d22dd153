"""Steady client traffic against live gateways, recorded request by request.

``Load`` runs a few threads, each sending OpenAI-format requests in a loop
(each with a prompt of its own, so the response cache misses and every
request touches limits, breakers and the cache store), until it is stopped.
Every outcome is kept with its start time, so a test can look at what
happened before, during and after a fault it injected.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Self

import openai


@dataclass(frozen=True)
class Outcome:
    started: float
    seconds: float
    status: int
    stream: bool
    request_id: str
    error: str = ""


@dataclass
class Load:
    urls: list[str]
    key: str
    threads: int = 4
    streaming_threads: int = 1
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        # Every prompt is new, also across loads: a repeated one could find
        # a cache entry or a cache lock left by an earlier test.
        self._run_id = secrets.token_hex(3)
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def __enter__(self) -> Self:
        kinds = [False] * self.threads + [True] * self.streaming_threads
        for index, stream in enumerate(kinds):
            url = self.urls[index % len(self.urls)]
            worker = threading.Thread(target=self._run, args=(url, stream), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def between(self, start: float, end: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if start <= o.started < end]

    def _run(self, url: str, stream: bool) -> None:
        client = openai.OpenAI(
            base_url=url + "/v1", api_key=self.key, max_retries=0, timeout=30
        )
        while not self._stop.is_set():
            outcome = self._one(client, stream)
            with self._lock:
                self.outcomes.append(outcome)

    def _one(self, client: openai.OpenAI, stream: bool) -> Outcome:
        request_id = f"load-{self._run_id}-{next(self._counter)}"
        messages = [{"role": "user", "content": f"Request {request_id}: a colour?"}]
        started = time.monotonic()
        try:
            self._send(client, messages, stream, request_id)
        except openai.APIStatusError as exc:
            status, error = exc.status_code, str(exc)[:200]
        except Exception as exc:  # noqa: BLE001 - a dropped stream is an outcome too
            status, error = 0, f"{type(exc).__name__}: {exc}"[:200]
        else:
            status, error = 200, ""
        seconds = time.monotonic() - started
        return Outcome(started, seconds, status, stream, request_id, error)

    def _send(
        self, client: openai.OpenAI, messages: list, stream: bool, request_id: str
    ) -> None:
        reply = client.chat.completions.create(
            model="claude-haiku-4-5",
            messages=messages,
            max_tokens=20,
            stream=stream,
            extra_headers={"X-Request-ID": request_id},
        )
        if stream:
            finish = [c.choices[0].finish_reason for c in reply if c.choices]
            assert finish[-1] in ("stop", "length"), finish


def failures(outcomes: list[Outcome]) -> list[Outcome]:
    """Server errors and broken connections or streams."""
    return [o for o in outcomes if o.status >= 500 or o.status == 0]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
