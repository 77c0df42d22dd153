"""``manage.py prune_records --older-than-days N``: delete old request records."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from monitoring.services import records_prune


class Command(BaseCommand):
    help = "Delete request records older than the given number of days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-days", type=int, required=True, metavar="N")

    def handle(self, *args, older_than_days: int, **options) -> None:
        if older_than_days < 0:
            raise CommandError("--older-than-days must be 0 or more")

        cutoff = timezone.now() - timedelta(days=older_than_days)
        deleted = records_prune(before=cutoff)
        self.stdout.write(
            f"Deleted {deleted} request records older than {cutoff:%Y-%m-%d %H:%M} UTC."
        )
