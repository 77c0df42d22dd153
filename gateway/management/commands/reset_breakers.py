"""``manage.py reset_breakers [--target NAME]``: close circuit breakers.

With ``REDIS_URL`` set the breakers live in Redis, so closing them there
closes them on every replica at once. Without it each gateway process keeps
its own breakers, out of reach of this command: it says so.
"""

import asyncio

from django.core.management.base import BaseCommand, CommandError

from gateway.conf import config
from gateway.services.dispatch import TARGETS
from gateway.state.backend import StoreUnavailable
from gateway.state.breaker_store import CLOSED, Transition
from gateway.state.store import build_state_store


class Command(BaseCommand):
    help = "Close circuit breakers on every replica sharing the state store."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--target", choices=TARGETS, help="Only this target (default: all)."
        )

    def handle(self, *args, target: str | None, **options) -> None:
        redis_url = config().REDIS_URL
        if not redis_url:
            self.stdout.write(
                "No REDIS_URL: each gateway process keeps its own breakers in memory; "
                "restart the gateway to close them. Nothing changed."
            )
            return

        targets = [target] if target else list(TARGETS)
        try:
            transitions = asyncio.run(_reset(redis_url, targets))
        except StoreUnavailable as exc:
            raise CommandError(f"The state store did not answer: {exc}") from None

        for name, transition in transitions.items():
            self.stdout.write(_describe(name, transition))


async def _reset(redis_url: str, targets: list[str]) -> dict[str, Transition]:
    store = build_state_store(redis_url)
    try:
        return {name: await store.breakers.reset(name) for name in targets}
    finally:
        await store.aclose()


def _describe(name: str, transition: Transition) -> str:
    if transition.previous == CLOSED:
        return f"{name}: already closed, unchanged"
    return f"{name}: {transition.previous} -> closed"
