"""Per-client rate limits and budgets on the request path.

``Limiter.admit`` reserves a request's tokens (estimated input plus the most
it may generate) and its worst-case cost, or refuses it with ``RateLimited``
naming the limit and when the same request will be let through.
``Limiter.settle`` sets the reservation to the tokens really used and charges
the real cost. docs/limits.md explains the windows, budgets and headers.

A rate or concurrency limit of 0 means unlimited; a blank budget means none,
and a budget of 0 allows nothing.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from decimal import Decimal

from gateway.errors import PayloadTooLarge, RateLimited
from gateway.ids import random_hex
from gateway.services.clients import ClientProfile
from gateway.services.exchange import Exchange
from gateway.services.pricing import NANOS_PER_USD, Usage, usage_cost
from gateway.state.limits_store import (
    CONCURRENT_REQUESTS,
    DAILY_BUDGET,
    HOLD_SECONDS,
    MONTHLY_BUDGET,
    REQUESTS_PER_MINUTE,
    TOKENS_PER_MINUTE,
    Admission,
    LimitPolicy,
    LimitStore,
    Reservation,
)


def limit_policy(client: ClientProfile) -> LimitPolicy:
    return LimitPolicy(
        requests_per_minute=client.requests_per_minute or 0,
        tokens_per_minute=client.tokens_per_minute or 0,
        max_concurrent=client.max_concurrent_requests or 0,
        daily_budget_nanos=_nanos(client.daily_budget_usd),
        monthly_budget_nanos=_nanos(client.monthly_budget_usd),
    )


class Limiter:
    """Admits and settles requests against a ``LimitStore``.

    With Redis, the store is wrapped by ``gateway.state.resilient``, which
    answers from in-process limits while Redis is away, so the limiter never
    sees Redis fail.
    """

    def __init__(
        self, store: LimitStore, *, hold_seconds: float = HOLD_SECONDS
    ) -> None:
        self.store = store
        self.hold_seconds = hold_seconds

    async def admit(self, exchange: Exchange) -> None:
        """Reserve the request's tokens and cost, or raise ``RateLimited``."""
        policy = limit_policy(exchange.client)
        reservation = new_reservation(exchange, policy)
        admission = await self.store.admit(
            exchange.client.id, policy, reservation, hold_seconds=self.hold_seconds
        )

        headers = limit_headers(policy, admission)
        exchange.response_headers.update(headers)
        if not admission.admitted:
            raise refusal_error(policy, admission, reservation, headers)
        exchange.reservation = reservation

    async def settle(self, exchange: Exchange) -> None:
        """Settle the reservation to the real usage and charge the real cost."""
        reservation, exchange.reservation = exchange.reservation, None
        if reservation is None:
            return

        tokens, cost = used_tokens_and_cost(exchange)
        await self.store.settle(
            exchange.client.id, reservation, tokens_used=tokens, cost_nanos=cost
        )


def new_reservation(exchange: Exchange, policy: LimitPolicy) -> Reservation:
    """Estimated input plus the most the model may write, and its worst cost."""
    input_tokens = exchange.estimated_tokens
    output_tokens = _max_output_tokens(exchange)
    tpm = policy.tokens_per_minute
    if tpm and input_tokens > tpm:
        raise PayloadTooLarge(
            f"This request's prompt is about {input_tokens:,} tokens, more than this "
            f"key's limit of {tpm:,} tokens per minute, so it can never be admitted. "
            "Shorten the prompt or ask the operator to raise the limit.",
            code="request_exceeds_tokens_per_minute",
        )

    cost = 0
    if exchange.model is not None:
        worst = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        cost = usage_cost(exchange.model, worst).total_nanos
    return Reservation(
        id=random_hex(8), tokens=input_tokens + output_tokens, cost_nanos=cost
    )


def used_tokens_and_cost(exchange: Exchange) -> tuple[int, int]:
    """What the request really used; nothing if the upstream charged nothing."""
    if exchange.cache_status == "HIT":
        return 0, 0
    usage = exchange.usage
    tokens = usage.prompt_tokens + usage.output_tokens if usage is not None else 0
    cost = exchange.cost.total_nanos if exchange.cost is not None else 0
    return tokens, cost


def limit_headers(policy: LimitPolicy, admission: Admission) -> dict[str, str]:
    """``X-RateLimit-*`` for each limit the client has; unlimited ones are omitted."""
    headers: dict[str, str] = {}
    reset = f"{math.ceil(admission.window_reset)}s"
    rpm, tpm = policy.requests_per_minute, policy.tokens_per_minute
    if rpm:
        headers["X-RateLimit-Limit-Requests"] = str(rpm)
        remaining = max(rpm - admission.requests_in_window, 0)
        headers["X-RateLimit-Remaining-Requests"] = str(remaining)
        headers["X-RateLimit-Reset-Requests"] = reset
    if tpm:
        headers["X-RateLimit-Limit-Tokens"] = str(tpm)
        remaining = max(tpm - admission.tokens_in_window, 0)
        headers["X-RateLimit-Remaining-Tokens"] = str(remaining)
        headers["X-RateLimit-Reset-Tokens"] = reset
    return headers


def refusal_error(
    policy: LimitPolicy,
    admission: Admission,
    reservation: Reservation,
    headers: dict[str, str],
) -> RateLimited:
    name = admission.refused_by or REQUESTS_PER_MINUTE
    retry = max(1, math.ceil(admission.retry_after))
    if name in (DAILY_BUDGET, MONTHLY_BUDGET):
        message = _budget_message(name, policy, admission, retry)
    else:
        message = _rate_message(name, policy, admission, reservation, retry)
    return RateLimited(
        message, retry_after=retry, code=f"{name}_exceeded", headers=dict(headers)
    )


def _rate_message(
    name: str,
    policy: LimitPolicy,
    admission: Admission,
    reservation: Reservation,
    retry: int,
) -> str:
    when = f"Retry in {retry} s, at {_utc_after(retry)}."
    if name == REQUESTS_PER_MINUTE:
        return (
            f"Rate limit exceeded: this key allows {policy.requests_per_minute:,} "
            f"requests per minute. {when}"
        )
    if name == TOKENS_PER_MINUTE:
        return (
            f"Rate limit exceeded: this key allows {policy.tokens_per_minute:,} tokens "
            f"per minute; {admission.tokens_in_window:,} are in use in the last minute "
            f"and this request reserves {reservation.tokens:,} (estimated input plus "
            f"max_tokens). {when}"
        )
    if name == CONCURRENT_REQUESTS:
        return (
            f"Concurrency limit exceeded: this key allows {policy.max_concurrent:,} "
            f"requests at a time. Retry in {retry} s."
        )
    raise ValueError(f"unknown limit {name!r}")


def _budget_message(
    name: str, policy: LimitPolicy, admission: Admission, retry: int
) -> str:
    if name == DAILY_BUDGET:
        label, budget, span = "Daily", policy.daily_budget_nanos, "UTC day"
    else:
        label, budget, span = "Monthly", policy.monthly_budget_nanos, "UTC month"
    resets = math.ceil(admission.resets_in)
    prefix = (
        f"{label} budget exceeded: this key's budget of {_usd(budget or 0)} per {span}"
    )
    if admission.retry_after < admission.resets_in:
        return (
            f"{prefix} is committed to requests still in progress. Retry in {retry} s; "
            f"the budget resets at {_utc_after(resets)}."
        )
    return f"{prefix} is spent. It resets at {_utc_after(resets)} (in {resets:,} s)."


def _max_output_tokens(exchange: Exchange) -> int:
    requested = exchange.body.get("max_tokens")
    if (
        isinstance(requested, int)
        and not isinstance(requested, bool)
        and requested >= 0
    ):
        return requested
    return exchange.model.max_output_tokens if exchange.model is not None else 0


def _nanos(usd: Decimal | None) -> int | None:
    return None if usd is None else int(Decimal(usd) * NANOS_PER_USD)


def _usd(nanos: int) -> str:
    amount = Decimal(nanos) / NANOS_PER_USD
    return f"${amount:,.2f}" if amount == round(amount, 2) else f"${amount:,.4f}"


def _utc_after(seconds: int) -> str:
    moment = datetime.fromtimestamp(math.ceil(time.time() + seconds), tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
