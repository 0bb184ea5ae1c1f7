"""The runtime's end of the private channel to the worker: one frame in per event, one
frame out per reply (a response carries the process's memory high-water mark).

It uses `_socket` and the import system's own source loader rather than `socket` and
`importlib.util`, which would import `enum`, `selectors` and more before any function runs.
"""

from __future__ import annotations

import os
import sys
from _socket import socket
from importlib.machinery import SourceFileLoader

from .memory import HighWater

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _load_wire(path: str) -> Any:
    # Loaded by path under a private name: the agent's package must not shadow user modules.
    loader = SourceFileLoader("_lamina_wire", path)
    module = type(sys)("_lamina_wire")
    module.__file__ = path
    module.__loader__ = loader
    loader.exec_module(module)
    return module


class WorkerChannel:
    def __init__(self, fd: int, wire_path: str) -> None:
        os.set_inheritable(fd, False)  # the function's subprocesses must not hold it
        self._sock = socket(fileno=fd)
        self._sock.setblocking(True)
        self.wire = _load_wire(wire_path)
        self._reader = self.wire.FrameReader()
        self._frames: list = []
        self._buffer = bytearray(64 * 1024)  # reused: a fresh large buffer per recv costs an mmap
        self._view = memoryview(self._buffer)
        self._high_water = HighWater()

    @classmethod
    def from_environment(cls) -> WorkerChannel:
        return cls(int(os.environ.pop("_LAMINA_RUNTIME_FD")), os.environ.pop("_LAMINA_WIRE"))

    def _receive(self, expected: int) -> list[bytes]:
        frames = self._frames
        while not frames:
            count = self._sock.recv_into(self._buffer)
            if not count:
                raise EOFError("lamina closed the runtime channel")
            frames = self._reader.feed(self._view[:count])
        kind, fields = frames[0]
        self._frames = frames[1:]
        if kind != expected:
            raise ValueError(f"unexpected frame kind {kind} from the worker")
        return fields

    def _send(self, kind: int, *fields: bytes) -> None:
        self._sock.sendall(self.wire.encode(kind, *fields))

    def waiting(self) -> None:
        self._send(self.wire.R_WAITING)

    def next(self) -> list[bytes]:
        self._send(self.wire.R_NEXT)
        return self._receive(self.wire.R_EVENT)

    def respond_then_next(self, request_id: bytes, content_type: bytes, body: bytes) -> list[bytes]:
        self._send(self.wire.R_RESPONSE, request_id, content_type, body, self._high_water.field())
        return self._receive(self.wire.R_EVENT)

    def error_then_next(self, request_id: bytes, body: bytes) -> list[bytes]:
        self._send(self.wire.R_ERROR, request_id, b"application/json", body, b"")
        return self._receive(self.wire.R_EVENT)

    def init_error(self, error_type: str, body: bytes) -> None:
        self._send(self.wire.R_INIT_ERROR, error_type.encode(), body)
