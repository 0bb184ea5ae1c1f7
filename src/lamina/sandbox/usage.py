"""What an environment has used since it was assigned its function, as its invocations
report it: Max Memory Used, and whether the OOM killer struck or a fork was refused at the
process limit (which tell Runtime.OutOfMemory and a process-limit fault from a plain exit).

The cgroup's counters are read against their values at assignment, so a spare's start-up
never counts. Max Memory Used follows `highwater`: the figure a response reports, checked
against the host's own measurement only when that figure may not be enough.
"""

from __future__ import annotations

from collections.abc import Callable

from .cgroups import EnvironmentCgroup
from .highwater import ReportedPeak, RuntimeHighWater


class EnvironmentUsage:
    def __init__(self, runtime_identity: Callable[[], tuple[int, int]]) -> None:
        """`runtime_identity()` is (agent pid, runtime generation): whose VmHWM to read."""
        self._runtime_identity = runtime_identity
        self._cgroup: EnvironmentCgroup | None = None
        self._high_water = RuntimeHighWater()
        self._reported_peak = ReportedPeak(self._measure_mb)
        self._oom_kills = 0
        self._pids_refused = 0

    def watch(self, cgroup: EnvironmentCgroup) -> None:
        """The sandbox's cgroup, once it exists."""
        self._cgroup = cgroup

    def assigned(self, memory_mb: int) -> None:
        """The environment now serves a function with this memory limit: count from here."""
        self._reported_peak.set_limit(memory_mb)
        if self._cgroup is not None:
            self._oom_kills = self._cgroup.oom_kills()
            self._pids_refused = self._cgroup.pids_refused()

    def memory_mb(self, reported_kb: bytes | None = None) -> int:
        """Max Memory Used: the environment's peak, and never below its runtime's own
        high-water mark. Given the figure reported with a response, the host
        measures only when that may not be enough (see `highwater`)."""
        if reported_kb is not None:
            return self._reported_peak.mb(reported_kb)
        return self._measure_mb()

    def _measure_mb(self) -> int:
        peak = 0
        if self._cgroup is not None:
            try:
                peak = self._cgroup.peak_mb()
            except OSError:
                pass
        return max(peak, self._high_water.mb(*self._runtime_identity()))

    def out_of_memory(self) -> bool:
        """The cgroup's OOM killer struck since the environment was assigned its function."""
        return self._cgroup is not None and self._cgroup.oom_kills() > self._oom_kills

    def hit_process_limit(self) -> bool:
        """A fork or clone was refused at the limit of processes and threads since the
        environment was assigned its function."""
        return self._cgroup is not None and self._cgroup.pids_refused() > self._pids_refused

    def close(self) -> None:
        self._high_water.close()
