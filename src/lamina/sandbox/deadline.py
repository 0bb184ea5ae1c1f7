"""When an environment's invocation in flight times out, on one timer that outlives invocations.

Nearly every invocation ends long before its timeout, so creating and cancelling a loop
timer for each one is wasted work. Here the timer is armed for the first invocation's
deadline and left alone when invocations end. When it fires it looks at the invocation in
flight then: past its deadline, it expires; still within it, the timer is armed again for
that deadline; none, the timer stops until the next invocation. It is re-armed at once only
when an invocation's deadline comes before the timer's (a suppressed init used part of the
timeout). A sequential stream of invocations thus costs one timer per timeout period, not
one per invocation, and an expiry is as punctual as a timer of its own would be.
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
        self._when: float | None = None  # loop time the invocation in flight times out at
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def start(self, delay_s: float) -> None:
        """An invocation started: it times out `delay_s` from now, unless `stop` comes first."""
        when = self._when = self._loop.time() + delay_s
        if self._timer is None or self._timer_at > when:
            self._arm(when)

    def stop(self) -> None:
        """The invocation ended (the timer stays, for the next one)."""
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
