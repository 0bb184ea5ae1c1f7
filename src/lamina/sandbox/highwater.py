"""Max Memory Used: the memory high-water mark of an environment, measured from the host,
and how often it must be measured.

A cgroup's peak counts only the pages charged to it, and a page of the page cache is charged
to whoever read it first: the interpreter's and the libraries' pages that another
environment (or the server) loaded earlier are in the runtime's resident set but not in
its cgroup's peak. "Max Memory Used" must not read below what the function's own process
reports, so a measurement is the larger of the two (`RuntimeHighWater` reads the runtime's
VmHWM; its /proc status file is opened once per runtime process; a reading is one pread).

Every response reports the runtime process's VmHWM (lamina's Python runtime reads its own,
the agent reads that of an HTTP runtime), so the host measures only when that figure could
be stale (`ReportedPeak`), and on errors and faults.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

_MAX_PROCESSES = 4  # the agent's children: its runtime (and, rarely, a few orphans it adopted)
REMEASURE_S = 1.0  # a measurement is at most this old when the report figure is unchanged
NEAR_LIMIT = 0.9  # of the memory limit: from there on, measure every time
_MAX_DIGITS = 12  # a reported figure longer than this is garbage


def mb_of_kb(kb: int) -> int:
    return -(-kb // 1024)


class RuntimeHighWater:
    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None  # (agent pid, runtime generation) the fds are for
        self._fds: list[int] = []

    def mb(self, agent_pid: int, generation: int) -> int:
        """The largest VmHWM among the agent's child processes, in MB (rounded up); 0 if unknown."""
        if not agent_pid:
            return 0
        if self._key != (agent_pid, generation):
            self._open(agent_pid)
            self._key = (agent_pid, generation) if self._fds else None  # none yet: look again next time
        peak_kb = 0
        for fd in self._fds:
            try:
                status = os.pread(fd, 4096, 0)
            except OSError:
                continue  # exited
            start = status.find(b"VmHWM:")
            if start >= 0:
                peak_kb = max(peak_kb, int(status[start + 6:status.index(b"kB", start)]))
        return mb_of_kb(peak_kb)

    def _open(self, agent_pid: int) -> None:
        self.close()
        try:
            with open(f"/proc/{agent_pid}/task/{agent_pid}/children") as f:
                children = f.read().split()[:_MAX_PROCESSES]
        except OSError:
            return
        for pid in children:
            try:
                self._fds.append(os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                pass

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        self._key = None


class ReportedPeak:
    """Max Memory Used from the figure the runtime reports (its own VmHWM, in kB) and the
    host's last measurement (`measure`, in MB), which is taken again only when it may
    have fallen behind: the reported figure changed (a new MB, or a new runtime process),
    the environment is near its memory limit, or the measurement is a second old. Between
    measurements what the runtime's own process used is exact; what other processes or
    the page cache added since shows within a second.

    The figure comes from inside the sandbox, so it only ever raises the result: a runtime
    that reports too little gets the host's measurement, at most a second old."""

    def __init__(self, measure: Callable[[], int]) -> None:
        self._measure = measure
        self._reported_mb = -1
        self._measured_mb = 0
        self._measured_at = float("-inf")
        self._near_limit_mb = 0  # 0: no limit known, measure every time

    def set_limit(self, limit_mb: int) -> None:
        self._near_limit_mb = int(limit_mb * NEAR_LIMIT)

    def mb(self, reported_kb: bytes) -> int:
        now = time.monotonic()
        reported_mb = mb_of_kb(int(reported_kb)) if 0 < len(reported_kb) <= _MAX_DIGITS and reported_kb.isdigit() \
            else -1
        if (reported_mb < 0 or reported_mb != self._reported_mb or now - self._measured_at >= REMEASURE_S
                or max(reported_mb, self._measured_mb) >= self._near_limit_mb):
            self._reported_mb = reported_mb
            self._measured_mb = self._measure()
            self._measured_at = now
        return max(reported_mb, self._measured_mb)
