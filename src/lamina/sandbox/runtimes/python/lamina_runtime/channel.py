"""The runtime's end of the private channel to the agent."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
from typing import Any


def _load_wire(path: str) -> Any:
    # Loaded by path under a private name: the agent's package must not shadow user modules.
    spec = importlib.util.spec_from_file_location("_lamina_wire", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class AgentChannel:
    def __init__(self, fd: int, wire_path: str) -> None:
        os.set_inheritable(fd, False)  # the function's subprocesses must not hold it
        self._sock = socket.socket(fileno=fd)
        self._sock.setblocking(True)
        self.wire = _load_wire(wire_path)
        self._reader = self.wire.FrameReader()
        self._frames: list = []

    @classmethod
    def from_environment(cls) -> AgentChannel:
        return cls(int(os.environ.pop("_LAMINA_RUNTIME_FD")), os.environ.pop("_LAMINA_WIRE"))

    def _receive(self, expected: int) -> list[bytes]:
        while not self._frames:
            data = self._sock.recv(256 * 1024)
            if not data:
                raise EOFError("the agent closed the runtime channel")
            self._frames = self._reader.feed(data)
        kind, fields = self._frames.pop(0)
        if kind != expected:
            raise ValueError(f"unexpected frame kind {kind} from the agent")
        return fields

    def _send(self, kind: int, *fields: bytes) -> None:
        self._sock.sendall(self.wire.encode(kind, *fields))

    def wait_assignment(self) -> dict[str, Any]:
        return json.loads(self._receive(self.wire.R_GO)[0])

    def next(self) -> list[bytes]:
        self._send(self.wire.R_NEXT)
        return self._receive(self.wire.R_EVENT)

    def respond_then_next(self, request_id: bytes, content_type: bytes, body: bytes) -> list[bytes]:
        self._send(self.wire.R_RESPONSE, request_id, content_type, body)
        return self._receive(self.wire.R_EVENT)

    def error_then_next(self, request_id: bytes, body: bytes) -> list[bytes]:
        self._send(self.wire.R_ERROR, request_id, b"application/json", body, b"")
        return self._receive(self.wire.R_EVENT)

    def init_error(self, error_type: str, body: bytes) -> None:
        self._send(self.wire.R_INIT_ERROR, error_type.encode(), body)
