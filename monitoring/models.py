"""The persisted record of every request the gateway settled.

Rows are written in batches by ``monitoring.writer`` off the request path.
They never hold a prompt, a completion or a key: only what the request cost,
where it went and how it ended.
"""

from __future__ import annotations

from django.db import models

from gateway.models import ApiClient


class RequestRecord(models.Model):
    time = models.DateTimeField(db_index=True, help_text="When the request arrived.")
    client = models.ForeignKey(
        ApiClient,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="request_records",
    )
    client_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="The client's name at the time, kept if the client is deleted.",
    )
    request_id = models.CharField(max_length=128, db_index=True)
    surface = models.CharField(max_length=16)
    model = models.CharField(max_length=100, blank=True)
    provider = models.CharField(max_length=32)
    strategy = models.CharField(max_length=16, blank=True)
    status = models.PositiveSmallIntegerField()
    error_type = models.CharField(max_length=64, blank=True)
    cache_status = models.CharField(max_length=8, help_text="HIT, MISS or BYPASS.")
    input_tokens = models.PositiveIntegerField(
        default=0, help_text="Uncached input tokens, as the upstream counts them."
    )
    output_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(
        default=0, help_text="Input tokens read from the upstream's prompt cache."
    )
    cache_write_tokens = models.PositiveIntegerField(default=0)
    tokens_saved = models.PositiveIntegerField(
        default=0, help_text="Input tokens removed by prompt optimisation."
    )
    cost_usd = models.DecimalField(max_digits=16, decimal_places=9, default=0)
    cost_avoided_usd = models.DecimalField(max_digits=16, decimal_places=9, default=0)
    latency_ms = models.FloatField()
    attempts = models.CharField(max_length=255, blank=True)
    fallback = models.BooleanField(default=False)

    class Meta:
        ordering = ["-time"]
        indexes = [
            models.Index(fields=["client", "time"], name="record_client_time"),
            models.Index(fields=["model", "time"], name="record_model_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.status} {self.model}"
