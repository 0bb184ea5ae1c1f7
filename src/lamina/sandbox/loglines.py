"""The platform's own lines in a function's log (spec §8.1): INIT_START, INIT_REPORT, the
timeout line and the crash lines. START/END/REPORT are the invoke service's."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from .spec import LogLine


def _now_ms() -> int:
    return int(time.time() * 1000)


def init_start(version_label: str, version_arn: str) -> LogLine:
    return LogLine(_now_ms(), f"INIT_START Runtime Version: {version_label}\tRuntime Version ARN: {version_arn}")


def init_report(duration_ms: float, phase: str, status: str | None = None, error_type: str | None = None) -> LogLine:
    text = f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: {phase}"
    if status:
        text += f"\tStatus: {status}"
    if error_type:
        text += f"\tError Type: {error_type}"
    return LogLine(_now_ms(), text)


def timed_out(request_id: str, timeout_s: float) -> LogLine:
    now = _now_ms()
    stamp = datetime.fromtimestamp(now / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return LogLine(now, f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds")


def runtime_failure(request_id: str, message: str, error_type: str) -> list[LogLine]:
    now = _now_ms()
    return [LogLine(now, f"RequestId: {request_id} Error: {message}"), LogLine(now, error_type)]


def process_limit(limit: int) -> LogLine:
    """lamina's note in the log of a function whose forks were refused at the limit."""
    return LogLine(_now_ms(), f"[lamina] the function reached its limit of {limit} processes and threads "
                              "(forks failed with EAGAIN: Resource temporarily unavailable)")
