"""The one exponential back-off policy: after the n-th consecutive failure, wait
`first * 2^(n-1)` seconds, never more than `cap`."""

from __future__ import annotations


def exponential_delay(failures: int, first: float, cap: float) -> float:
    """Seconds to wait after `failures` consecutive failures (1 for the first)."""
    return min(cap, first * 2.0 ** min(max(failures - 1, 0), 64))
