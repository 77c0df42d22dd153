"""``manage.py run_standin``: serve the local Anthropic and Ollama stand-in."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gateway.standin.cli import add_arguments, options_from
from gateway.standin.server import run_standin


class Command(BaseCommand):
    help = (
        "Run a local stand-in for the Anthropic API and for Ollama, for tests, "
        "benchmarks and demos without an API key."
    )

    # The stand-in uses nothing of Django's; skipping the system checks
    # keeps start-up quick for benchmark scripts that launch it.
    requires_system_checks = ()

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            standin_options = options_from(options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        run_standin(
            standin_options,
            host=options["host"],
            port=options["port"],
            on_ready=self._announce,
        )

    def _announce(self, url: str) -> None:
        self.stdout.write(f"standin listening on {url}")
        self.stdout.flush()
