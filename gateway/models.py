"""The gateway's persistent data: API clients and the model pricing table.

Models hold data and its invariants only; nothing here does network I/O. The
request path never queries these tables directly: ``services.clients`` and
``services.catalog`` keep short-lived in-process snapshots of them.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models


def _default_rpm() -> int:
    return settings.TOKENSGATE["RATE_LIMIT_REQUESTS_PER_MIN"]


def _default_tpm() -> int:
    return settings.TOKENSGATE["RATE_LIMIT_TOKENS_PER_MIN"]


class OptimizationMode(models.TextChoices):
    OFF = "off", "Off"
    SAFE = "safe", "Safe (meaning-preserving)"
    AGGRESSIVE = "aggressive", "Aggressive (lossy)"


class ApiClient(models.Model):
    """An application allowed to call the gateway with its own key.

    Only a SHA-256 hash of the key is stored. Keys carry 256 bits of entropy, so a
    fast hash is enough: brute force is impossible without a slow hash, and a
    fast one lets the hash itself be the indexed lookup key.
    """

    name = models.CharField(max_length=100, unique=True)
    key_prefix = models.CharField(
        max_length=16, editable=False, help_text="The key's first characters."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    requests_per_minute = models.PositiveIntegerField(default=_default_rpm)
    tokens_per_minute = models.PositiveIntegerField(default=_default_tpm)
    daily_budget_usd = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Blank means no daily budget.",
    )
    monthly_budget_usd = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Blank means no monthly budget.",
    )
    max_concurrent_requests = models.PositiveIntegerField(
        null=True, blank=True, help_text="Blank means no cap."
    )
    cache_scope = models.CharField(
        max_length=64, blank=True,
        help_text="Clients with the same scope share cached answers. "
        "Blank keeps the client's answers to itself.",
    )
    optimization_mode = models.CharField(
        max_length=16, choices=OptimizationMode.choices, default=OptimizationMode.SAFE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"


class Provider(models.TextChoices):
    ANTHROPIC = "anthropic", "Anthropic"
    OLLAMA = "ollama", "Ollama"


def _price_field(help_text: str) -> models.DecimalField:
    return models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))], help_text=help_text,
    )


class ModelPrice(models.Model):
    """One model the gateway can route to, with its prices per million tokens."""

    model_id = models.CharField(max_length=100, unique=True)
    aliases = models.JSONField(default=list, blank=True)
    provider = models.CharField(
        max_length=16, choices=Provider.choices, default=Provider.ANTHROPIC
    )
    input_price = _price_field("USD per million uncached input tokens.")
    output_price = _price_field("USD per million output tokens.")
    cache_write_5m_price = _price_field("USD per million tokens written, 5 minute TTL.")
    cache_write_1h_price = _price_field("USD per million tokens written, 1 hour TTL.")
    cache_read_price = _price_field("USD per million tokens read from the cache.")
    min_cacheable_tokens = models.PositiveIntegerField(default=1024)
    max_output_tokens = models.PositiveIntegerField(
        default=4096, help_text="Used as max_tokens when a request sets none."
    )
    context_window = models.PositiveIntegerField(default=200000)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "model_id"]

    def __str__(self) -> str:
        return self.model_id
