"""An environment's invocation timeout on one timer that outlives invocations, on a fake clock."""

from __future__ import annotations

from lamina.deadline import Deadline


class _Timer:
    def __init__(self, when: float, callback) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class _Loop:
    """Just the loop's clock and timers, advanced by hand."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[_Timer] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback) -> _Timer:
        timer = _Timer(when, callback)
        self.timers.append(timer)
        return timer

    def advance(self, to: float) -> None:
        while True:
            due = [t for t in self.timers if not t.cancelled and t.when <= to]
            if not due:
                break
            timer = min(due, key=lambda t: t.when)
            self.timers.remove(timer)
            self.now = timer.when
            timer.callback()
        self.now = to

    @property
    def armed(self) -> list[_Timer]:
        return [t for t in self.timers if not t.cancelled]


def _deadline() -> tuple[_Loop, Deadline, list[float]]:
    loop = _Loop()
    expired: list[float] = []
    return loop, Deadline(loop, lambda: expired.append(loop.now)), expired  # type: ignore[arg-type]


def test_invocations_that_end_early_share_one_timer_and_a_later_one_still_times_out() -> None:
    loop, deadline, expired = _deadline()
    for step in range(100):  # invocations of 3 s that each end within a millisecond
        loop.advance(step * 0.001)
        deadline.start(3.0)
        deadline.stop()
    assert len(loop.timers) == 1
    loop.advance(1.0)
    deadline.start(3.0)  # times out at 4.0; the timer, armed for 3.0, is moved on when it fires
    loop.advance(3.5)
    assert expired == []
    loop.advance(10.0)
    assert expired == [4.0]
    assert loop.armed == []  # nothing in flight: no timer left


def test_an_earlier_deadline_than_the_armed_timer_rearms_it() -> None:
    loop, deadline, expired = _deadline()
    deadline.start(10.0)
    deadline.stop()
    deadline.start(2.0)  # e.g. what a suppressed init left of the timeout
    loop.advance(5.0)
    assert expired == [2.0]


def test_an_ended_or_closed_invocation_never_expires() -> None:
    loop, deadline, expired = _deadline()
    deadline.start(1.0)
    deadline.stop()
    loop.advance(5.0)
    deadline.start(1.0)
    deadline.close()
    loop.advance(10.0)
    assert expired == [] and loop.armed == []
