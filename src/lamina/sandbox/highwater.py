"""The memory high-water mark (VmHWM) of an environment's runtime, read from the host.

A cgroup's peak counts only the pages charged to it, and a page of the page cache is charged
to whoever read it first: the interpreter's and the libraries' pages that another
environment (or the server) loaded earlier are in the runtime's resident set but not in
its cgroup's peak. "Max Memory Used" must not read below what the function's own process
reports, so it is the larger of the two. The runtime's /proc status file is opened once
per runtime process; a reading is one pread.
"""

from __future__ import annotations

import os

_MAX_PROCESSES = 4  # the agent's children: its runtime (and, rarely, a few orphans it adopted)


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
        return -(-peak_kb // 1024)

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
