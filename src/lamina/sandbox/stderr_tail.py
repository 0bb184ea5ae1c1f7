"""The last few KB a sandbox wrote to its own stderr: bubblewrap's complaints and the
agent's, before and after it is up (a function's output goes elsewhere, to its log pipe).

Read on the event loop as it comes, so a writer never blocks; kept for the message of a
sandbox that failed to start, and logged with it.
"""

from __future__ import annotations

import asyncio
import os

KEPT = 4096


class StderrTail:
    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self._fd = fd
        self._loop = loop
        self._tail = b""
        self.ended: asyncio.Future[None] = loop.create_future()  # the writers have all closed it
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._read)

    def _read(self) -> None:
        if self._take() is None:
            self.close()

    def _take(self) -> bool | None:
        """Keep what the pipe holds now: True if there was some, False if none yet, None at
        its end."""
        try:
            data = os.read(self._fd, 65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return None
        if not data:
            return None
        self._tail = (self._tail + data)[-KEPT:]
        return True

    def text(self) -> str:
        return self._tail.decode(errors="replace").strip()

    def last_line(self, limit: int = 300) -> str:
        """The last line written: usually what went wrong, for a short message."""
        lines = self.text().splitlines()
        return lines[-1][-limit:] if lines else ""

    def close(self) -> None:
        """Stop reading, keeping what was written up to now."""
        while self._fd >= 0 and self._take():
            pass
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        if not self.ended.done():
            self.ended.set_result(None)
