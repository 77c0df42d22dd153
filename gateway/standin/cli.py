"""Command-line options of the stand-in, shared by ``manage.py run_standin``
and ``python -m gateway.standin`` (which needs no Django settings)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.standin.server import run_standin
from gateway.standin.state import StandinOptions

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the stand-in's options on ``parser``."""
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to listen on")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="0 = any free port"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="wait this long before every answer, like a distant upstream",
    )
    parser.add_argument(
        "--chunk-delay-ms",
        type=float,
        default=0.0,
        help="wait this long between streamed deltas",
    )
    parser.add_argument(
        "--reply-tokens",
        type=int,
        default=64,
        help="length of the text replies, in tokens",
    )


def options_from(values: Mapping[str, Any]) -> StandinOptions:
    """Build the run-time settings from parsed options."""
    options = StandinOptions(
        latency_ms=float(values["latency_ms"]),
        chunk_delay_ms=float(values["chunk_delay_ms"]),
        reply_tokens=int(values["reply_tokens"]),
    )
    if options.latency_ms < 0 or options.chunk_delay_ms < 0 or options.reply_tokens < 1:
        raise ValueError("delays must be >= 0 and --reply-tokens >= 1")

    return options


def announce(url: str) -> None:
    """Print the line scripts wait for before they send traffic."""
    print(f"standin listening on {url}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m gateway.standin``."""
    parser = argparse.ArgumentParser(
        prog="python -m gateway.standin",
        description="Local stand-in for the Anthropic API and for Ollama.",
    )
    add_arguments(parser)
    values = vars(parser.parse_args(argv))
    try:
        options = options_from(values)
    except ValueError as exc:
        parser.error(str(exc))

    try:
        run_standin(
            options, host=values["host"], port=values["port"], on_ready=announce
        )
    except KeyboardInterrupt:
        sys.exit(0)
