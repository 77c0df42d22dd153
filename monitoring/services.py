"""Write-side operations on request records."""

from __future__ import annotations

from datetime import datetime

from gateway.models import ApiClient
from monitoring.models import RequestRecord

_PRUNE_CHUNK = 10_000


def records_prune(*, before: datetime) -> int:
    """Delete records older than ``before`` in chunks, so no lock is long."""
    deleted = 0
    while True:
        ids = list(
            RequestRecord.objects.filter(time__lt=before)
            .order_by()
            .values_list("id", flat=True)[:_PRUNE_CHUNK]
        )
        if not ids:
            return deleted
        count, _ = RequestRecord.objects.filter(id__in=ids).delete()
        deleted += count


def records_create(*, records: list[RequestRecord]) -> None:
    """Insert records; a client deleted since its request leaves a blank FK."""
    ids = {record.client_id for record in records if record.client_id is not None}
    existing = set(ApiClient.objects.filter(pk__in=ids).values_list("pk", flat=True))
    for record in records:
        if record.client_id not in existing:
            record.client_id = None
    RequestRecord.objects.bulk_create(records)
