"""Seed the pricing table with Claude's published prices (USD per million).

Later edits belong in admin: this migration only inserts rows that are absent,
so re-running it never overwrites an operator's prices.
"""

from decimal import Decimal

from django.db import migrations

# model id, aliases, input, output, 5m write, 1h write, read, min cacheable
CLAUDE_PRICES = [
    (
        "claude-haiku-4-5-20251001",
        ["claude-haiku-4-5"],
        "1",
        "5",
        "1.25",
        "2",
        "0.10",
        4096,
    ),
    (
        "claude-sonnet-4-5-20250929",
        ["claude-sonnet-4-5"],
        "3",
        "15",
        "3.75",
        "6",
        "0.30",
        1024,
    ),
    (
        "claude-sonnet-4-20250514",
        ["claude-sonnet-4-0"],
        "3",
        "15",
        "3.75",
        "6",
        "0.30",
        1024,
    ),
    (
        "claude-3-7-sonnet-20250219",
        ["claude-3-7-sonnet-latest"],
        "3",
        "15",
        "3.75",
        "6",
        "0.30",
        1024,
    ),
    (
        "claude-opus-4-5-20251101",
        ["claude-opus-4-5"],
        "5",
        "25",
        "6.25",
        "10",
        "0.50",
        4096,
    ),
    (
        "claude-opus-4-1-20250805",
        ["claude-opus-4-1"],
        "15",
        "75",
        "18.75",
        "30",
        "1.50",
        1024,
    ),
    (
        "claude-opus-4-20250514",
        ["claude-opus-4-0"],
        "15",
        "75",
        "18.75",
        "30",
        "1.50",
        1024,
    ),
    (
        "claude-3-5-haiku-20241022",
        ["claude-3-5-haiku-latest"],
        "0.80",
        "4",
        "1",
        "1.6",
        "0.08",
        2048,
    ),
    ("claude-3-haiku-20240307", [], "0.25", "1.25", "0.30", "0.50", "0.03", 2048),
    ("claude-opus-4-6", [], "5", "25", "6.25", "10", "0.50", 4096),
    ("claude-sonnet-4-6", [], "3", "15", "3.75", "6", "0.30", 2048),
]


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("gateway", "ModelPrice")
    for model_id, aliases, inp, out, w5, w1, read, min_cache in CLAUDE_PRICES:
        ModelPrice.objects.get_or_create(
            model_id=model_id,
            defaults={
                "aliases": aliases,
                "provider": "anthropic",
                "input_price": Decimal(inp),
                "output_price": Decimal(out),
                "cache_write_5m_price": Decimal(w5),
                "cache_write_1h_price": Decimal(w1),
                "cache_read_price": Decimal(read),
                "min_cacheable_tokens": min_cache,
                "max_output_tokens": 4096,
                "context_window": 200000,
            },
        )
    ModelPrice.objects.get_or_create(
        model_id="llama3.2:1b",
        defaults={
            "provider": "ollama",
            "max_output_tokens": 2048,
            "context_window": 8192,
        },
    )


def unseed(apps, schema_editor):
    ModelPrice = apps.get_model("gateway", "ModelPrice")
    ids = [row[0] for row in CLAUDE_PRICES] + ["llama3.2:1b"]
    ModelPrice.objects.filter(model_id__in=ids).delete()


class Migration(migrations.Migration):
    dependencies = [("gateway", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
