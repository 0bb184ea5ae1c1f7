"""Frames spoken between lamina's worker, the agent and lamina's Python runtime.

Stdlib only: this file is imported by the worker (as `lamina.sandbox.agent.wire`), by the
agent inside the sandbox, and loaded by path by the managed Python runtime.

A frame is a 6-byte header `<IBB` (body length, kind, number of fields), a table of
`u32` field lengths, then the fields' bytes back to back. Fields are opaque bytes; each
kind gives them a fixed meaning by position. Small and positional so that the hot path
(INVOKE, EVENT, RESPONSE, RESULT) costs one `struct.pack` and one `join` with a codec
compiled once per field count, and a read that holds exactly one frame (an invocation's
event or reply) is decoded straight from the bytes received.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("<IBB")
MAX_FRAME = 16 * 1024 * 1024  # bigger than any payload (6 MB) + logs; a larger frame is a protocol error

# worker -> agent (fds travel with SCM_RIGHTS on the same stream)
SETUP = 1  # [marshal] + fds [runtime channel, log pipe write end] when a Python runtime is pre-started
ASSIGN = 2  # [marshal] + fds [mounts..., then runtime channel and/or log pipe write end if a runtime is started]
REINIT = 3  # [marshal] + fds [runtime channel and/or log pipe write end]: reset, start the runtime again
INVOKE = 4  # [request_id, deadline_ms, arn, trace_id, client_context, cognito, content_type, tenant_id, payload]

# agent -> worker
HELLO = 20  # []  the agent is running; the worker can place it in its cgroup
READY = 21  # [port]
INIT_DONE = 22  # [outcome, error_type, content_type, body]  (HTTP runtimes and platform errors)
RESULT = 23  # [request_id, outcome, error_type, content_type, payload, max_rss_kb]  (HTTP runtimes)
EXITED = 25  # [generation, description]  the runtime process of that generation exited
FAULT = 26  # [message]  the agent itself failed

# lamina's Python runtime <-> worker: the private fast path, no agent in between
R_NEXT = 40  # []
R_RESPONSE = 41  # [request_id, content_type, payload, max_rss_kb]  (implies the next R_NEXT)
R_ERROR = 42  # [request_id, content_type, body, error_type]  (implies the next R_NEXT; memory measured on the host)
R_INIT_ERROR = 43  # [error_type, body]
R_WAITING = 44  # []  a pre-started runtime has imported everything and waits for its function
R_EVENT = 50  # the INVOKE fields
# max_rss_kb: the runtime process's own high-water mark (VmHWM) in kB, as ASCII digits (b"" if unknown)

# outcomes in INIT_DONE and RESULT
OK = b"ok"
ERROR = b"error"  # the runtime posted /error (RESULT) or /init/error (INIT_DONE)
TOO_LARGE = b"too_large"  # Function.ResponseSizeTooLarge
ENTRYPOINT = b"entrypoint"  # Runtime.InvalidEntrypoint


_MOST_FIELDS = 12  # the codecs compiled in advance; frames with more fields compile theirs
_HEADS = [struct.Struct(f"<IBB{count}I") for count in range(_MOST_FIELDS + 1)]
_LENGTHS = [struct.Struct(f"<{count}I") for count in range(_MOST_FIELDS + 1)]
_COPY_WHOLE = 64 * 1024  # a buffered frame up to this size is copied out once, not field by field


def encode(kind: int, *fields: bytes) -> bytes:
    count = len(fields)
    lengths = [len(f) for f in fields]
    head = _HEADS[count] if count <= _MOST_FIELDS else struct.Struct(f"<IBB{count}I")
    return head.pack(4 * count + sum(lengths), kind, count, *lengths) + b"".join(fields)


def decode_fields(frame: bytes | memoryview, count: int, start: int = 0) -> list[bytes]:
    """The `count` fields of the frame body that runs from `start` to the end of `frame`."""
    table = _LENGTHS[count] if count <= _MOST_FIELDS else struct.Struct(f"<{count}I")
    if len(frame) - start < table.size:
        raise ValueError("frame too short for its field lengths")
    lengths = table.unpack_from(frame, start)
    if type(frame) is not bytes and len(frame) <= _COPY_WHOLE:
        frame = bytes(frame)  # then each field is one slice of it (bytes() of bytes is no copy)
    fields = []
    offset = start + table.size
    for length in lengths:
        end = offset + length
        fields.append(bytes(frame[offset:end]))
        offset = end
    if offset != len(frame):
        raise ValueError("frame fields do not add up to the frame length")
    return fields


class FrameReader:
    """Incremental decoder: feed bytes, get complete frames as (kind, fields)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes | memoryview) -> list[tuple[int, list[bytes]]]:
        buf = self._buf
        if not buf and len(data) >= HEADER.size:  # one whole frame, the usual read: no copy into the buffer
            length, kind, count = HEADER.unpack_from(data, 0)
            if len(data) == HEADER.size + length and length <= MAX_FRAME:
                return [(kind, decode_fields(data, count, HEADER.size))]
        buf += data
        frames = []
        start = 0
        with memoryview(buf) as view:
            while len(buf) - start >= HEADER.size:
                length, kind, count = HEADER.unpack_from(buf, start)
                if length > MAX_FRAME:
                    raise ValueError(f"frame of {length} bytes exceeds the limit")
                end = start + HEADER.size + length
                if len(buf) < end:
                    break
                frames.append((kind, decode_fields(view[start + HEADER.size:end], count)))
                start = end
        if start:
            del buf[:start]
        return frames
