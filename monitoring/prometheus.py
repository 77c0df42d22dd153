"""Prometheus text exposition (format 0.0.4) of the counters and breakers.

Names follow Prometheus conventions: a ``tokensgate_`` prefix, base units
(seconds, USD) in the name, ``_total`` on counters. In Redis mode the counters
are the cluster's totals, the same on every replica, so dashboards should
aggregate them with ``max`` over instances rather than ``sum``; in memory mode
each process reports its own (see docs/observability.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from monitoring import metrics

NANOS = 1_000_000_000
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

BREAKER_STATES = ("closed", "open", "half_open")


def render(totals: Mapping[str, int], *, breakers: dict, scope: str) -> str:
    lines: list[str] = []
    _requests(lines, totals)
    _duration(lines, totals)
    _tokens(lines, totals)
    _costs(lines, totals)
    _plain_counters(lines, totals)
    _breakers(lines, breakers)
    _family(
        lines,
        "tokensgate_counters_cluster_wide",
        "gauge",
        "1 when counters cover every replica (Redis), 0 for this process only.",
    )
    lines.append(f"tokensgate_counters_cluster_wide {int(scope == 'cluster')}")
    return "\n".join(lines) + "\n"


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    if not labels:
        return f"{name} {_number(value)}"
    pairs = ",".join(f'{key}="{_escape(str(v))}"' for key, v in labels.items())
    return f"{name}{{{pairs}}} {_number(value)}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _labelled(
    lines: list[str],
    totals: Mapping[str, int],
    family: str,
    name: str,
    label_names: Iterable[str],
    divisor: int | None = None,
) -> None:
    names = tuple(label_names)
    for values, amount in sorted(metrics.labelled_counts(totals, family)):
        if len(values) != len(names):
            continue
        value = amount / divisor if divisor is not None else amount
        lines.append(_sample(name, dict(zip(names, values, strict=True)), value))


def _requests(lines: list[str], totals: Mapping[str, int]) -> None:
    name = "tokensgate_requests_total"
    _family(
        lines,
        name,
        "counter",
        "Requests settled, by surface, provider, "
        "model, HTTP status and response cache result.",
    )
    _labelled(
        lines,
        totals,
        metrics.BY_REQUEST,
        name,
        ("surface", "provider", "model", "status", "cache"),
    )


def _duration(lines: list[str], totals: Mapping[str, int]) -> None:
    name = "tokensgate_request_duration_seconds"
    _family(
        lines,
        name,
        "histogram",
        "Time from arrival to the end of the response, streams included.",
    )
    cumulative = 0
    buckets = metrics.latency_buckets(totals)
    bounds = [*(b / 1000 for b in metrics.LATENCY_BOUNDS_MS), None]
    for bound, count in zip(bounds, buckets, strict=True):
        cumulative += count
        le = "+Inf" if bound is None else repr(float(bound))
        lines.append(_sample(f"{name}_bucket", {"le": le}, cumulative))
    seconds = totals.get(metrics.LATENCY_US_SUM, 0) / 1_000_000
    lines.append(_sample(f"{name}_sum", {}, float(seconds)))
    lines.append(_sample(f"{name}_count", {}, cumulative))


def _tokens(lines: list[str], totals: Mapping[str, int]) -> None:
    name = "tokensgate_tokens_total"
    _family(
        lines,
        name,
        "counter",
        "Tokens the upstream billed, by type "
        "(input is the uncached part; cache_read and cache_write priced apart).",
    )
    _labelled(lines, totals, metrics.BY_TOKENS, name, ("provider", "model", "type"))


def _costs(lines: list[str], totals: Mapping[str, int]) -> None:
    name = "tokensgate_cost_usd_total"
    _family(
        lines, name, "counter", "Spend in US dollars at the pricing table's prices."
    )
    _labelled(lines, totals, metrics.BY_COST, name, ("provider", "model"), NANOS)

    name = "tokensgate_cost_avoided_usd_total"
    _family(
        lines,
        name,
        "counter",
        "US dollars the gateway's cache and optimisations avoided spending.",
    )
    _labelled(
        lines, totals, metrics.BY_COST_AVOIDED, name, ("provider", "model"), NANOS
    )


_PLAIN = (
    (
        "tokensgate_rate_limited_total",
        metrics.RATE_LIMITED,
        "Requests refused by the gateway's own rate limits and budgets.",
    ),
    ("tokensgate_errors_total", metrics.ERRORS, "Requests answered with an error."),
    (
        "tokensgate_fallbacks_total",
        metrics.FALLBACKS,
        "Requests answered by the fallback provider.",
    ),
    (
        "tokensgate_tokens_saved_total",
        metrics.TOKENS_SAVED,
        "Input tokens removed by prompt optimisation.",
    ),
    ("tokensgate_cache_hits_total", metrics.CACHE_HITS, "Response cache hits."),
    ("tokensgate_cache_misses_total", metrics.CACHE_MISSES, "Response cache misses."),
)


def _plain_counters(lines: list[str], totals: Mapping[str, int]) -> None:
    for name, field, help_text in _PLAIN:
        _family(lines, name, "counter", help_text)
        lines.append(_sample(name, {}, totals.get(field, 0)))


def _breakers(lines: list[str], breakers: dict) -> None:
    name = "tokensgate_circuit_breaker_state"
    _family(lines, name, "gauge", "1 for the state each target's breaker is in.")
    for target, breaker in sorted(breakers.items()):
        for state in BREAKER_STATES:
            value = int(breaker.get("state") == state)
            lines.append(_sample(name, {"target": target, "state": state}, value))

    _breaker_numbers(
        lines,
        breakers,
        "tokensgate_circuit_breaker_failures",
        "gauge",
        "failures_in_window",
        "Retryable failures inside the breaker's window.",
    )
    _breaker_numbers(
        lines,
        breakers,
        "tokensgate_circuit_breaker_cooldown_seconds",
        "gauge",
        "cooldown_remaining_s",
        "Seconds left before an open breaker lets a canary through.",
    )
    _breaker_numbers(
        lines,
        breakers,
        "tokensgate_circuit_breaker_trips_total",
        "counter",
        "total_trips",
        "Times the breaker has opened.",
    )


def _breaker_numbers(
    lines: list[str],
    breakers: dict,
    name: str,
    kind: str,
    field: str,
    help_text: str,
) -> None:
    known = {
        t: b[field] for t, b in sorted(breakers.items()) if b.get(field) is not None
    }
    if not known:
        return
    _family(lines, name, kind, help_text)
    for target, value in known.items():
        lines.append(_sample(name, {"target": target}, value))
