"""Read-side queries over request records: spend per client, model and day."""

from __future__ import annotations

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate

from monitoring.models import RequestRecord

SPEND_ROWS = 15

_AGGREGATES = {
    "requests": Count("id"),
    "cost": Sum("cost_usd"),
    "cost_avoided": Sum("cost_avoided_usd"),
    "input_tokens": Sum("input_tokens"),
    "output_tokens": Sum("output_tokens"),
    "cached_tokens": Sum("cached_tokens"),
}


def spend_by_client(records: QuerySet[RequestRecord]) -> list[dict]:
    rows = records.values("client_name").annotate(**_AGGREGATES).order_by("-cost")
    return [
        {"label": r.pop("client_name") or "(deleted)", **r} for r in rows[:SPEND_ROWS]
    ]


def spend_by_model(records: QuerySet[RequestRecord]) -> list[dict]:
    rows = records.values("model").annotate(**_AGGREGATES).order_by("-cost")
    return [{"label": r.pop("model") or "(none)", **r} for r in rows[:SPEND_ROWS]]


def spend_by_day(records: QuerySet[RequestRecord]) -> list[dict]:
    rows = (
        records.annotate(day=TruncDate("time"))
        .values("day")
        .annotate(**_AGGREGATES)
        .order_by("-day")
    )
    return [{"label": r.pop("day"), **r} for r in rows[:SPEND_ROWS]]


def spend_summary(records: QuerySet[RequestRecord]) -> dict[str, list[dict]]:
    """The three spend tables the admin shows above the record list."""
    records = records.order_by()
    return {
        "client": spend_by_client(records),
        "model": spend_by_model(records),
        "day": spend_by_day(records),
    }
