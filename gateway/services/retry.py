"""Retry pacing: capped exponential backoff with full jitter, and a budget.

Backoff spreads the retries of many clients hit by the same outage over time
instead of sending them back in waves. The budget caps retries at a share of
the requests a process has seen recently, so a failing upstream receives a
little more than its normal traffic, never a multiple of it.
"""

from __future__ import annotations

BACKOFF_BASE_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 4.0

# An upstream asking for a longer wait than this is not retried at all: the
# request fails over (or the client gets the wait in ``Retry-After``) rather
# than holding its connection open that long.
MAX_RETRY_AFTER_SECONDS = 10.0

# Retries may add about 20% to the requests sent upstream, with a reserve of
# ten so a quiet process can still retry a burst of failures.
BUDGET_RATIO = 0.2
BUDGET_RESERVE = 10.0


def backoff_delay(attempt: int, jitter: float) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first).

    ``jitter`` is a number in [0, 1): "full jitter" waits a uniform share of
    the capped exponential step.
    """
    step = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return jitter * step


class RetryBudget:
    """A token bucket per process: each request adds ``ratio``, each retry costs one.

    Kept per process on purpose: it bounds what this process adds to an
    outage, needs no round trip, and replicas each holding 20% still add up
    to 20% of the total.
    """

    def __init__(self, *, ratio: float = BUDGET_RATIO, reserve: float = BUDGET_RESERVE):
        self.ratio = ratio
        self.capacity = reserve
        self.balance = reserve

    def note_request(self) -> None:
        self.balance = min(self.capacity, self.balance + self.ratio)

    def try_spend(self) -> bool:
        if self.balance < 1.0:
            return False
        self.balance -= 1.0
        return True
