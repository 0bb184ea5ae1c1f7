"""Which Retry or Catch handles an error, and how long a retry waits."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lamina.states.errors import ALL, TASK_FAILED, TIMEOUT, UNCATCHABLE
from lamina.states.model import Catcher, Retrier


def error_matches(error_equals: Sequence[str], error: str) -> bool:
    if error in UNCATCHABLE:
        return False
    for name in error_equals:
        if name == error or name == ALL:
            return True
        # States.TaskFailed stands for any error except a timeout.
        if name == TASK_FAILED and error != TIMEOUT:
            return True
    return False


def find_retrier(retriers: Sequence[Retrier], error: str) -> int | None:
    """Index of the first retrier whose ErrorEquals matches; later ones are never consulted."""
    for i, retrier in enumerate(retriers):
        if error_matches(retrier.error_equals, error):
            return i
    return None


def find_catcher(catchers: Sequence[Catcher], error: str) -> Catcher | None:
    for catcher in catchers:
        if error_matches(catcher.error_equals, error):
            return catcher
    return None


def retry_delay(retrier: Retrier, retries_so_far: int, rng: random.Random) -> float:
    """Seconds before retry number `retries_so_far + 1`: IntervalSeconds x BackoffRate^n,
    capped at MaxDelaySeconds; FULL jitter picks uniformly between 0 and that."""
    delay = retrier.interval_seconds * retrier.backoff_rate**retries_so_far
    if retrier.max_delay_seconds is not None:
        delay = min(delay, retrier.max_delay_seconds)
    if retrier.jitter_strategy == "FULL":
        delay = rng.uniform(0, delay)
    return float(delay)
