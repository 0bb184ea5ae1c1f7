"""An environment's usage counts from its assignment: what happened while it was a spare,
or while it served the function it had before, is never its function's fault."""

from __future__ import annotations

from typing import Any, cast

from lamina.sandbox.usage import EnvironmentUsage


class _Counters:
    """The cgroup counters `EnvironmentUsage` reads, set by the test."""

    def __init__(self) -> None:
        self.oom, self.refused, self.peak = 0, 0, 0

    def oom_kills(self) -> int:
        return self.oom

    def pids_refused(self) -> int:
        return self.refused

    def peak_mb(self) -> int:
        return self.peak


def _usage() -> tuple[EnvironmentUsage, _Counters]:
    counters = _Counters()
    usage = EnvironmentUsage(lambda: (0, 0))  # no agent: the cgroup's peak is the whole figure
    usage.watch(cast(Any, counters))
    return usage, counters


def test_an_oom_kill_before_assignment_does_not_count() -> None:
    usage, counters = _usage()
    counters.oom = 1  # e.g. while it was a spare
    usage.assigned(128)
    assert not usage.out_of_memory()
    counters.oom = 2
    assert usage.out_of_memory()


def test_a_refused_fork_counts_only_after_assignment() -> None:
    usage, counters = _usage()
    counters.refused = 3
    usage.assigned(128)
    assert not usage.hit_process_limit()
    counters.refused = 4
    assert usage.hit_process_limit()


def test_max_memory_used_is_never_below_the_hosts_measurement() -> None:
    usage, counters = _usage()
    usage.assigned(128)
    counters.peak = 40
    assert usage.memory_mb() == 40
    assert usage.memory_mb(b"10240") == 40  # the runtime reports 10 MB; the cgroup saw 40
    counters.peak = 41
    assert usage.memory_mb(b"61440") == 60  # a new figure is checked against a new measurement


def test_without_a_cgroup_nothing_is_blamed_on_the_function() -> None:
    usage = EnvironmentUsage(lambda: (0, 0))
    usage.assigned(128)
    assert not usage.out_of_memory() and not usage.hit_process_limit()
    assert usage.memory_mb() == 0
