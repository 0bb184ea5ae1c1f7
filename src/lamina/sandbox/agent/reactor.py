"""A minimal single-threaded event loop over epoll.

The agent starts in a few milliseconds and runs under any Python from 3.9, so it does not
use asyncio; it only needs readiness callbacks for a handful of file descriptors.
"""

from __future__ import annotations

import select

TYPE_CHECKING = False  # no `typing` at run time: see agent.py
if TYPE_CHECKING:
    from typing import Callable

    Callback = Callable[[], None]

_READ, _WRITE = select.EPOLLIN, select.EPOLLOUT


class Reactor:
    """epoll itself: `selectors` would cost the agent's start its import (and `math`'s)."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._callbacks: dict[int, list[Callback | None]] = {}
        self._registered: set[int] = set()
        self.running = True

    def _update(self, fd: int) -> None:
        reader, writer = self._callbacks[fd]
        events = (_READ if reader else 0) | (_WRITE if writer else 0)
        if not events:
            del self._callbacks[fd]
            if fd in self._registered:
                self._registered.discard(fd)
                try:
                    self._epoll.unregister(fd)
                except OSError:
                    pass  # already closed: the kernel dropped it
        elif fd in self._registered:
            self._epoll.modify(fd, events)
        else:
            self._epoll.register(fd, events)
            self._registered.add(fd)

    def set_reader(self, fd: int, callback: Callback | None) -> None:
        self._callbacks.setdefault(fd, [None, None])[0] = callback
        self._update(fd)

    def set_writer(self, fd: int, callback: Callback | None) -> None:
        self._callbacks.setdefault(fd, [None, None])[1] = callback
        self._update(fd)

    def forget(self, fd: int) -> None:
        if fd in self._callbacks:
            self._callbacks[fd] = [None, None]
            self._update(fd)

    def run(self) -> None:
        while self.running:
            for fd, mask in self._epoll.poll():
                callbacks = self._callbacks.get(fd)
                if callbacks is None:
                    continue
                # As `selectors` reads them: hang-ups and errors wake readers and writers alike.
                if mask & ~_WRITE and callbacks[0] is not None:
                    callbacks[0]()
                # the read callback may have closed and forgotten this fd
                callbacks = self._callbacks.get(fd)
                if callbacks is not None and mask & ~_READ and callbacks[1] is not None:
                    callbacks[1]()
