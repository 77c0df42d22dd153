"""Tables of the overhead benchmark, in Markdown, as docs/benchmarks.md shows them."""

from __future__ import annotations

# (label, how the figure is read from the rows, goal as printed)
GOALS = [
    (
        "added latency, non-streaming, 1 client, instant upstream (p50 / p99)",
        "added_1",
        "≤ 1.0 / ≤ 3 ms",
    ),
    ("added latency at 64 clients, 100 ms upstream (p50)", "added_64_slow", "≤ 3 ms"),
    ("most requests per second on one core", "max_rps", "≥ 1,000"),
    ("added time to first text, streaming, 1 client (p50)", "ttft_1", "≤ 2 ms"),
    ("added time to first text, streaming, 32 clients (p50)", "ttft_32", "≤ 10 ms"),
    ("20-chunk streams per second on one core", "max_streams", "≥ 600"),
    ("memory of one worker under load (peak RSS)", "peak_rss", "≤ 120 MB"),
    ("cache hit, end to end (p50)", "cache_hit", "≤ 1 ms"),
]


def _added(row, attribute: str) -> float | None:
    through = getattr(row.through, attribute)
    direct = getattr(row.direct, attribute)
    if through is None or direct is None:
        return None
    return through - direct


def spreads(through: list, direct: list) -> dict:
    """Half the range of the added p50 and of the rate over repeated runs."""
    if len(through) < 2:
        return {}
    added = [t.p50 - d.p50 for t, d in zip(through, direct, strict=True)]
    rates = [t.rps for t in through]
    return {
        "added_p50_spread_ms": round((max(added) - min(added)) / 2, 3),
        "rps_spread": round((max(rates) - min(rates)) / 2, 1),
    }


def _ms(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:+.{digits}f} ms"


def case_table(rows: list) -> str:
    lines = [
        "| target | case | upstream | clients | req/s (direct) | p50 (direct) "
        "| added p50 / p99 | added first text p50 / p99 | CPU per request "
        "| peak RSS | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        first_text = "–"
        if row.through.first_text_p50 is not None:
            first_text = (
                f"{_ms(_added(row, 'first_text_p50'))} / "
                f"{_ms(_added(row, 'first_text_p99'))}"
            )
        lines.append(
            f"| {row.target} | {row.case} | {row.upstream_latency_ms} ms "
            f"| {row.connections} | {row.through.rps:,.0f} ({row.direct.rps:,.0f}) "
            f"| {row.through.p50:.2f} ({row.direct.p50:.2f}) ms "
            f"| {_ms(_added(row, 'p50'), 2)} / {_ms(_added(row, 'p99'))} "
            f"| {first_text} | {row.cpu_ms_per_request:.2f} ms "
            f"| {row.peak_rss_mb:.0f} MB | {row.through.errors} |"
        )
    return "\n".join(lines)


def _find(rows: list, case: str, latency: int, connections: int):
    for row in rows:
        if (row.case, row.upstream_latency_ms, row.connections) == (
            case,
            latency,
            connections,
        ):
            return row
    return None


def goal_figure(rows: list, figure: str) -> str:
    """One figure of quality.md's table, from one target's rows."""
    if figure == "added_1":
        row = _find(rows, "openai", 0, 1)
        return row and f"{_ms(_added(row, 'p50'), 2)} / {_ms(_added(row, 'p99'))}"
    if figure == "added_64_slow":
        row = _find(rows, "openai", 100, 64)
        return row and _ms(_added(row, "p50"))
    if figure in ("max_rps", "max_streams"):
        case = "openai" if figure == "max_rps" else "openai-stream"
        rates = [r.through.rps for r in rows if r.case == case]
        return f"{max(rates):,.0f}" if rates else None
    if figure in ("ttft_1", "ttft_32"):
        row = _find(rows, "openai-stream", 0, 1 if figure == "ttft_1" else 32)
        return row and _ms(_added(row, "first_text_p50"))
    if figure == "peak_rss":
        return f"{max(r.peak_rss_mb for r in rows):.0f} MB"
    if figure == "cache_hit":
        row = _find(rows, "openai-cache-hit", 0, 1)
        return row and f"{row.through.p50:.2f} ms"
    raise ValueError(figure)


def goal_table(rows: list, targets: list[str]) -> str:
    header = "| figure | " + " | ".join(targets) + " | goal |"
    lines = [header, "|---" * (len(targets) + 2) + "|"]
    for label, figure, goal in GOALS:
        cells = []
        for target in targets:
            mine = [row for row in rows if row.target == target]
            cells.append((mine and goal_figure(mine, figure)) or "–")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {goal} |")
    return "\n".join(lines)


def markdown(rows: list, args) -> str:
    return (
        f"\n## Against the goals ({args.duration} s runs, median of {args.repeat})\n\n"
        + goal_table(rows, args.targets)
        + "\n\n## Every case\n\n"
        + case_table(rows)
        + "\n"
    )
