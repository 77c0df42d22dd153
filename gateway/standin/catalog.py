"""The models the stand-in answers for, with their prices and cache minimums.

Prices are Anthropic's list prices in USD per million tokens, and minimum
cacheable prefix lengths are from its prompt-caching documentation. This table
is the stand-in's own: the gateway keeps its pricing in the database and must
not import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prices:
    """USD per million tokens for each kind of token on a bill."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


@dataclass(frozen=True)
class ModelInfo:
    """A model the stand-in serves."""

    id: str
    display_name: str
    created_at: str
    prices: Prices
    min_cache_tokens: int
    provider: str = "anthropic"

    @property
    def is_local(self) -> bool:
        """Whether this is an Ollama model, which has no caching and no bill."""
        return self.provider == "ollama"


HAIKU_4_5 = Prices(1.0, 5.0, 1.25, 2.0, 0.10)
SONNET = Prices(3.0, 15.0, 3.75, 6.0, 0.30)
OPUS_4_5 = Prices(5.0, 25.0, 6.25, 10.0, 0.50)
OPUS_4 = Prices(15.0, 75.0, 18.75, 30.0, 1.50)
HAIKU_3_5 = Prices(0.80, 4.0, 1.0, 1.6, 0.08)
HAIKU_3 = Prices(0.25, 1.25, 0.30, 0.50, 0.03)
SONNET_5 = Prices(2.0, 10.0, 2.5, 4.0, 0.20)
OPUS_5_5 = Prices(4.0, 20.0, 5.0, 8.0, 0.40)
FREE = Prices(0.0, 0.0, 0.0, 0.0, 0.0)

DEFAULT_MIN_CACHE_TOKENS = 1024

CLAUDE_MODELS = (
    ModelInfo(
        "claude-haiku-4-5-20251001",
        "Claude Haiku 4.5",
        "2025-10-15T00:00:00Z",
        HAIKU_4_5,
        4096,
    ),
    ModelInfo(
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
        SONNET,
        1024,
    ),
    ModelInfo(
        "claude-opus-4-5-20251101",
        "Claude Opus 4.5",
        "2025-11-24T00:00:00Z",
        OPUS_4_5,
        4096,
    ),
    ModelInfo(
        "claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z", OPUS_4_5, 4096
    ),
    ModelInfo(
        "claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z", SONNET, 2048
    ),
    ModelInfo(
        "claude-opus-4-7", "Claude Opus 4.7", "2026-05-01T00:00:00Z", OPUS_4_5, 4096
    ),
    ModelInfo(
        "claude-opus-4-8", "Claude Opus 4.8", "2026-08-01T00:00:00Z", OPUS_4_5, 4096
    ),
    ModelInfo("claude-opus-5", "Claude Opus 5", "2026-09-01T00:00:00Z", OPUS_4_5, 512),
    ModelInfo(
        "claude-opus-5-5", "Claude Opus 5.5", "2026-11-01T00:00:00Z", OPUS_5_5, 512
    ),
    ModelInfo(
        "claude-sonnet-5", "Claude Sonnet 5", "2026-09-01T00:00:00Z", SONNET_5, 1024
    ),
    ModelInfo(
        "claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-11-01T00:00:00Z", SONNET_5, 1024
    ),
    ModelInfo(
        "claude-opus-4-1-20250805",
        "Claude Opus 4.1",
        "2025-08-05T00:00:00Z",
        OPUS_4,
        1024,
    ),
    ModelInfo(
        "claude-opus-4-20250514", "Claude Opus 4", "2025-05-22T00:00:00Z", OPUS_4, 1024
    ),
    ModelInfo(
        "claude-sonnet-4-20250514",
        "Claude Sonnet 4",
        "2025-05-22T00:00:00Z",
        SONNET,
        1024,
    ),
    ModelInfo(
        "claude-3-7-sonnet-20250219",
        "Claude Sonnet 3.7",
        "2025-02-24T00:00:00Z",
        SONNET,
        1024,
    ),
    ModelInfo(
        "claude-3-5-haiku-20241022",
        "Claude Haiku 3.5",
        "2024-10-22T00:00:00Z",
        HAIKU_3_5,
        2048,
    ),
    ModelInfo(
        "claude-3-haiku-20240307",
        "Claude Haiku 3",
        "2024-03-07T00:00:00Z",
        HAIKU_3,
        2048,
    ),
)

ALIASES = {
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
}

# Ids Anthropic has retired answer 404, like any id containing "retired", so
# that tests can provoke the error with an obvious name.
RETIRED_IDS = frozenset(
    {
        "claude-2.0",
        "claude-2.1",
        "claude-instant-1.2",
        "claude-3-sonnet-20240229",
        "claude-3-opus-20240229",
        "claude-3-5-sonnet-20240620",
        "claude-3-5-sonnet-20241022",
    }
)

LOCAL_MODELS = (
    ModelInfo("llama3.2:1b", "Llama 3.2 1B", "2024-09-25T00:00:00Z", FREE, 0, "ollama"),
    ModelInfo("llama3.2:3b", "Llama 3.2 3B", "2024-09-25T00:00:00Z", FREE, 0, "ollama"),
    ModelInfo(
        "qwen2.5:0.5b", "Qwen 2.5 0.5B", "2024-09-19T00:00:00Z", FREE, 0, "ollama"
    ),
)

_BY_ID = {model.id: model for model in CLAUDE_MODELS + LOCAL_MODELS}
_LOCAL_IDS = frozenset(model.id for model in LOCAL_MODELS)


def resolve_model(name: str) -> ModelInfo | None:
    """Return the model for an id or alias, or None when it does not exist.

    Any other ``claude-`` id is served with Sonnet prices and the default
    cache minimum, so that new model ids work before this table knows them.
    """
    if "retired" in name or name in RETIRED_IDS:
        return None

    known = _BY_ID.get(ALIASES.get(name, name))
    if known is not None:
        return known

    if not name.startswith("claude-"):
        return None

    return ModelInfo(
        name, name, "2025-01-01T00:00:00Z", SONNET, DEFAULT_MIN_CACHE_TOKENS
    )


def is_local_model(name: object) -> bool:
    """Whether ``name`` is one of the Ollama models."""
    return isinstance(name, str) and name in _LOCAL_IDS
