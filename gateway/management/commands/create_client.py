"""``manage.py create_client NAME``: prints the new key alone on its last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gateway.services.clients import client_create


class Command(BaseCommand):
    help = "Create an API client and print its key (shown once, never stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--rpm", type=int, help="Requests per minute.")
        parser.add_argument("--tpm", type=int, help="Tokens per minute.")

    def handle(self, *args, name: str, rpm: int | None, tpm: int | None, **options):
        try:
            client, key = client_create(
                name=name, requests_per_minute=rpm, tokens_per_minute=tpm
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None

        self.stdout.write(
            f"Created client {client.name!r} (id {client.pk}, "
            f"{client.requests_per_minute} rpm, {client.tokens_per_minute} tpm). "
            "Its key follows; it is not stored and will not be shown again."
        )
        self.stdout.write(key)
