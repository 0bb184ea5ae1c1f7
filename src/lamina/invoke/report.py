"""The platform's log lines around each invocation (START, END, REPORT), as Lambda writes
them, and the tail returned by `LogType: Tail`."""

from __future__ import annotations

import base64
import math
import time

from lamina.sandbox.spec import InvokeResult

TAIL_BYTES = 4096


def billed_duration_ms(result: InvokeResult) -> int:
    """Rounded up to the millisecond; on a cold start the init phase is billed too."""
    return math.ceil(result.duration_ms + (result.init_duration_ms or 0))


def report_line(request_id: str, result: InvokeResult, memory_mb: int) -> str:
    line = (f"REPORT RequestId: {request_id}\tDuration: {result.duration_ms:.2f} ms\t"
            f"Billed Duration: {billed_duration_ms(result)} ms\tMemory Size: {memory_mb} MB\t"
            f"Max Memory Used: {result.max_memory_used_mb} MB\t")
    if result.init_duration_ms is not None:
        line += f"Init Duration: {result.init_duration_ms:.2f} ms\t"
    if result.status == "timeout":
        line += "Status: timeout\t"
    elif result.status in ("error", "failure") and result.error_type and result.error_type.startswith(
            ("Runtime.", "Sandbox.", "Extension.")):
        line += f"Status: error\tError Type: {result.error_type}\t"
    return line


def invocation_log(request_id: str, version: str, result: InvokeResult, memory_mb: int) -> list[tuple[int, str]]:
    """Every event this invocation adds to its stream, in order, as (ms timestamp, message)."""
    started = result.log[0].timestamp_ms if result.log else int(time.time() * 1000)
    events = [(line.timestamp_ms, line.message + "\n") for line in result.init_log]
    events.append((started, f"START RequestId: {request_id} Version: {version}\n"))
    events.extend((line.timestamp_ms, line.message + "\n") for line in result.log)
    finished = int(time.time() * 1000)
    events.append((finished, f"END RequestId: {request_id}\n"))
    events.append((finished, report_line(request_id, result, memory_mb) + "\n"))
    return events


def log_tail(events: list[tuple[int, str]]) -> str:
    text = "".join(message for _, message in events).encode()
    return base64.b64encode(text[-TAIL_BYTES:]).decode()
