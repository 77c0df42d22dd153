"""Add the Claude models released after the first seed (protocols §6).

Cache prices follow Anthropic's usual multipliers (5m write x1.25, 1h write x2,
read x0.1); where a model's real multipliers differ, edit the row in admin.
Minimum cacheable lengths: 4,096 for Opus 4.x, 512 reported for Opus 5.x,
1,024 assumed for Sonnet 5.x until documented.
"""

from decimal import Decimal

from django.db import migrations

# model id, input, output, min cacheable
NEWER_MODELS = [
    ("claude-opus-4-7", "5", "25", 4096),
    ("claude-opus-4-8", "5", "25", 4096),
    ("claude-opus-5", "5", "25", 512),
    ("claude-opus-5-5", "4", "20", 512),
    ("claude-sonnet-5", "2", "10", 1024),
    ("claude-sonnet-5-5", "2", "10", 1024),
]


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("gateway", "ModelPrice")
    for model_id, inp, out, min_cache in NEWER_MODELS:
        base = Decimal(inp)
        ModelPrice.objects.get_or_create(
            model_id=model_id,
            defaults={
                "provider": "anthropic",
                "input_price": base,
                "output_price": Decimal(out),
                "cache_write_5m_price": base * Decimal("1.25"),
                "cache_write_1h_price": base * 2,
                "cache_read_price": base / 10,
                "min_cacheable_tokens": min_cache,
                "max_output_tokens": 4096,
                "context_window": 200000,
            },
        )


def unseed(apps, schema_editor):
    ModelPrice = apps.get_model("gateway", "ModelPrice")
    ModelPrice.objects.filter(model_id__in=[row[0] for row in NEWER_MODELS]).delete()


class Migration(migrations.Migration):
    dependencies = [("gateway", "0002_seed_model_prices")]

    operations = [migrations.RunPython(seed, unseed)]
