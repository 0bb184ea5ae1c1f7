"""What an invocation leaves in its log stream, as a compact record (the START, END and
REPORT lines Lambda writes around it are rendered from it when read), and the tail returned
by `LogType: Tail`."""

from __future__ import annotations

import base64
import time

from lamina.observability.invocation_log import InvocationLog
from lamina.sandbox.spec import InvokeResult

TAIL_BYTES = 4096


def invocation_log(request_id: str, version: str, result: InvokeResult, memory_mb: int) -> InvocationLog:
    """The record of this invocation's log events; it keeps the result's lines, not copies."""
    finished = int(time.time() * 1000)
    return InvocationLog(request_id, version, result.log[0].timestamp_ms if result.log else finished, finished,
                         result.duration_ms, result.init_duration_ms, memory_mb, result.max_memory_used_mb,
                         result.status, result.error_type, result.init_log, result.log)


def log_tail(events: list[tuple[int, str]]) -> str:
    text = "".join(message for _, message in events).encode()
    return base64.b64encode(text[-TAIL_BYTES:]).decode()
