"""A minimal single-threaded event loop over `selectors`.

The agent starts in a few milliseconds and runs under any Python from 3.9, so it does not
use asyncio; it only needs readiness callbacks for a handful of file descriptors.
"""

from __future__ import annotations

import selectors

TYPE_CHECKING = False  # no `typing` at run time: see agent.py
if TYPE_CHECKING:
    from typing import Callable

    Callback = Callable[[], None]


class Reactor:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._callbacks: dict[int, list[Callback | None]] = {}
        self.running = True

    def _update(self, fd: int) -> None:
        reader, writer = self._callbacks[fd]
        events = (selectors.EVENT_READ if reader else 0) | (selectors.EVENT_WRITE if writer else 0)
        registered = fd in self._selector.get_map()
        if not events:
            del self._callbacks[fd]
            if registered:
                self._selector.unregister(fd)
        elif registered:
            self._selector.modify(fd, events)
        else:
            self._selector.register(fd, events)

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
            for key, mask in self._selector.select():
                callbacks = self._callbacks.get(key.fd)
                if callbacks is None:
                    continue
                if mask & selectors.EVENT_READ and callbacks[0] is not None:
                    callbacks[0]()
                # the read callback may have closed and forgotten this fd
                callbacks = self._callbacks.get(key.fd)
                if callbacks is not None and mask & selectors.EVENT_WRITE and callbacks[1] is not None:
                    callbacks[1]()
