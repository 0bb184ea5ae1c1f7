"""The worker's end of a frame stream from inside a sandbox (the agent's control socket,
or lamina's Python runtime's own socket), as an asyncio protocol: the cheapest way
asyncio offers to turn readable bytes into callbacks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .agent import wire

log = logging.getLogger(__name__)


class FrameChannel(asyncio.Protocol):
    """Frames of the kinds in `allowed` go to `on_frame`; anything malformed or out of
    place means the other end cannot be trusted, and goes to `on_violation`."""

    def __init__(self, allowed: frozenset[int], on_frame: Callable[[int, list[bytes]], None],
                 on_closed: Callable[[], None], on_violation: Callable[[str], None]) -> None:
        self._allowed = allowed
        self._on_frame = on_frame
        self._on_closed = on_closed
        self._on_violation = on_violation
        self._reader = wire.FrameReader()
        self._drained: asyncio.Future[None] | None = None  # set while the transport's buffer holds data

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def drained(self) -> None:
        """Until everything written so far has gone to the socket (the stream's order
        matters to whoever writes past the transport, e.g. with fds attached). Exact when
        the transport's high-water mark is 0: paused as soon as anything is buffered."""
        if self._drained is not None:
            await asyncio.shield(self._drained)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except ValueError as error:
            self._on_violation(str(error))
            return
        for kind, fields in frames:
            if kind not in self._allowed:
                self._on_violation(f"frame kind {kind} on the wrong channel")
                return
            self._on_frame(kind, fields)

    def connection_lost(self, exc: Exception | None) -> None:
        self.resume_writing()
        self._on_closed()
