"""The function's log: the runtime's stdout and stderr, cut into one record per line.

Both go into one pipe (so their lines interleave as written) whose read end the worker
holds. The worker reads it at the end of each phase (an init or an invocation): a runtime
writes its output before it responds, so by the time the response arrives every line of
the invocation is in the pipe. It asks the kernel how much the pipe holds first (FIONREAD)
and reads exactly that: most invocations print nothing, and a read of an empty pipe fails
(an exception raised and caught on every invoke), where the ioctl just answers 0. While a phase runs, the pool also drains busy environments
every 100 ms, and the pipe is enlarged to 1 MiB, so a chatty function does not wait on us.

Per phase at most MAX_KEPT bytes are kept; the rest is counted and dropped. One drain
reads at most one pipe's worth, so a flood is throttled to about 10 MB/s (the writer
waits on the full pipe between drains): never buffered without bound, and costing the
server a bounded amount of CPU.
"""

from __future__ import annotations

import array
import fcntl
import os
import termios
import time

from .spec import LogLine

MAX_LINE = 256 * 1024  # CloudWatch Logs' largest event; longer lines are cut into pieces
MAX_KEPT = 1024 * 1024  # bytes of log kept per phase; the rest is counted and dropped
PIPE_SIZE = 1024 * 1024
_CHUNK = 64 * 1024  # per read: below malloc's mmap threshold
_F_SETPIPE_SZ = 1031


class LogCapture:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        try:
            fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass  # above /proc/sys/fs/pipe-max-size: keep the default 64 KiB
        self._held = array.array("i", [0])  # FIONREAD's answer: bytes in the pipe
        self._lines: list[LogLine] = []
        self._partial = b""
        self._kept = 0
        self._dropped = 0

    def drain(self) -> None:
        """Read what the pipe holds now, at most one pipe's worth (what a writer adds
        meanwhile waits for the next drain)."""
        if self.fd < 0:
            return
        try:
            fcntl.ioctl(self.fd, termios.FIONREAD, self._held)
        except OSError:
            return
        left = min(self._held[0], PIPE_SIZE)
        while left > 0:
            try:
                data = os.read(self.fd, min(left, _CHUNK))
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return  # every writer is gone
            left -= len(data)
            self._feed(data)

    def take(self) -> list[LogLine]:
        """The lines of the phase that just ended; the next phase starts empty."""
        self.drain()
        if self._partial:
            self._add(int(time.time() * 1000), self._partial)
            self._partial = b""
        if self._dropped:
            self._lines.append(LogLine(int(time.time() * 1000),
                                       f"[lamina] {self._dropped} bytes of log output dropped: at most "
                                       f"{MAX_KEPT} bytes are kept per invocation"))
        lines, self._lines = self._lines, []
        self._kept = self._dropped = 0
        return lines

    def _feed(self, data: bytes) -> None:
        now = int(time.time() * 1000)
        if self._partial:
            data = self._partial + data
        pieces = data.split(b"\n")
        self._partial = pieces.pop()
        for line in pieces:
            while len(line) > MAX_LINE:
                self._add(now, line[:MAX_LINE])
                line = line[MAX_LINE:]
            self._add(now, line)
        while len(self._partial) >= MAX_LINE:
            self._add(now, self._partial[:MAX_LINE])
            self._partial = self._partial[MAX_LINE:]

    def _add(self, timestamp_ms: int, line: bytes) -> None:
        if self._dropped or self._kept + len(line) > MAX_KEPT:
            self._dropped += len(line) + 1
            return
        self._kept += len(line) + 1
        self._lines.append(LogLine(timestamp_ms, line.decode("utf-8", "replace")))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
