"""The function's log: the runtime's stdout and stderr, cut into one record per line.

Lines are timestamped when the agent reads them. What is kept per phase (an init or an
invocation) is capped, so that a function flooding its output costs its own CPU share
(the agent reading and dropping it) and never the server's memory.
"""

from __future__ import annotations

import time

from . import wire

MAX_LINE = 256 * 1024  # CloudWatch Logs' largest event; longer lines are cut into pieces
MAX_KEPT = 1024 * 1024  # bytes of log kept per phase; the rest is counted and dropped


class LogBuffer:
    def __init__(self) -> None:
        self._records: list[tuple[int, bytes]] = []
        self._kept = 0
        self._dropped = 0
        self._partial = b""

    @property
    def size(self) -> int:
        return self._kept

    def feed(self, data: bytes) -> None:
        now = int(time.time() * 1000)
        if self._partial:
            data = self._partial + data
            self._partial = b""
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._add(now, line)
        while len(self._partial) >= MAX_LINE:
            self._add(now, self._partial[:MAX_LINE])
            self._partial = self._partial[MAX_LINE:]

    def add_line(self, text: str) -> None:
        self._add(int(time.time() * 1000), text.encode("utf-8", "replace"))

    def _add(self, timestamp_ms: int, line: bytes) -> None:
        if self._dropped or self._kept + len(line) > MAX_KEPT:
            self._dropped += len(line) + 1
            return
        self._kept += len(line) + 1
        self._records.append((timestamp_ms, line))

    def take(self, end_of_phase: bool) -> bytes:
        """Encode and forget what is buffered. At the end of a phase an unterminated last
        line becomes a record, and dropped output is reported in a final line."""
        if end_of_phase:
            if self._partial:
                self._add(int(time.time() * 1000), self._partial)
                self._partial = b""
            if self._dropped:
                note = (f"[lamina] {self._dropped} bytes of log output dropped: "
                        f"at most {MAX_KEPT} bytes are kept per invocation")
                self._records.append((int(time.time() * 1000), note.encode()))
                self._dropped = 0
        blob = wire.encode_logs(self._records) if self._records else b""
        self._records = []
        if end_of_phase:
            self._kept = 0
        return blob
