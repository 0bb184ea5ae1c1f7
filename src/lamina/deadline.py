"""A deadline on one loop timer that outlives what it times: an environment's invocation in
flight, a connection's wait for its client.

Nearly every wait ends long before its deadline, so creating and cancelling a loop timer for
each one is wasted work. Here the timer is armed for the first deadline and left alone when
the wait ends. When it fires it looks at the deadline then: past it, it expires; still
ahead, the timer is armed again for it; none, the timer stops until the next `start`. It is
re-armed at once only when a new deadline comes before the timer's. A stream of short waits
thus costs one timer per timeout period, not one per wait, and an expiry is as punctual as a
timer of its own would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# A loop timer may fire up to a millisecond before its time (libuv counts milliseconds).
_EARLY_S = 0.001


class Deadline:
    __slots__ = ("_loop", "_on_expiry", "_when", "_timer", "_timer_at")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_expiry: Callable[[], None]) -> None:
        self._loop = loop
        self._on_expiry = on_expiry
        self._when: float | None = None  # loop time the current wait expires at
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def start(self, delay_s: float) -> None:
        """A wait started (replacing any other): it expires `delay_s` from now, unless `stop` comes first."""
        when = self._when = self._loop.time() + delay_s
        if self._timer is None or self._timer_at > when:
            self._arm(when)

    def stop(self) -> None:
        """The wait ended (the timer stays, for the next one)."""
        self._when = None

    def close(self) -> None:
        self._when = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._fire)
        self._timer_at = when

    def _fire(self) -> None:
        self._timer = None
        when = self._when
        if when is None:
            return
        if when - _EARLY_S <= self._loop.time():
            self._when = None
            self._on_expiry()
        else:
            self._arm(when)
