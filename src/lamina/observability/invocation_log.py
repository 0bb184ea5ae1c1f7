"""One invocation's contribution to its log stream, kept as a compact record: ids, times,
durations, memory and status, plus references to the function's own output lines. The
platform lines Lambda writes around it (START, END, REPORT) are rendered only when someone
reads them (Tail, GetLogEvents, FilterLogEvents), never on the invoke path."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

EVENT_OVERHEAD_BYTES = 26  # as CloudWatch Logs counts an event's size
# About what START, END and REPORT add to the log buffer, ids and overhead included (for its bound).
PLATFORM_BYTES = 3 * EVENT_OVERHEAD_BYTES + 220
PLATFORM_ERROR_PREFIXES = ("Runtime.", "Sandbox.", "Extension.")

Event = tuple[int, str]  # (ms timestamp, message)


class OutputLine(Protocol):
    """A line of output as the sandbox reports it (`lamina.sandbox.spec.LogLine`)."""

    @property
    def timestamp_ms(self) -> int: ...

    @property
    def message(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StoredLine:
    timestamp_ms: int
    message: str


@dataclass(slots=True)
class InvocationLog:
    request_id: str
    version: str
    started_ms: int  # START's timestamp: the first output line's, else when it was recorded
    finished_ms: int  # END's and REPORT's
    duration_ms: float
    init_duration_ms: float | None  # set on a cold start
    memory_mb: int
    max_memory_used_mb: int
    status: str  # InvokeResult.status
    error_type: str | None
    init_log: Sequence[OutputLine]  # lines before START on a cold start (not copied: the result's own)
    log: Sequence[OutputLine]  # the function's output and the platform's lines about it
    output_chars: int = field(init=False)  # of the lines in `init_log` and `log`, without newlines

    def __post_init__(self) -> None:
        chars = sum(len(line.message) for line in self.log) if self.log else 0
        if self.init_log:
            chars += sum(len(line.message) for line in self.init_log)
        self.output_chars = chars

    @property
    def event_count(self) -> int:
        return len(self.init_log) + len(self.log) + 3

    def approximate_bytes(self) -> int:
        """What it will hold in the log buffer, for bounding it (not exact: no rendering)."""
        return PLATFORM_BYTES + self.output_chars + EVENT_OVERHEAD_BYTES * (len(self.log) + len(self.init_log))

    def billed_duration_ms(self) -> int:
        """Rounded up to the millisecond; on a cold start the init phase is billed too."""
        return math.ceil(self.duration_ms + (self.init_duration_ms or 0))

    def report_line(self) -> str:
        line = (f"REPORT RequestId: {self.request_id}\tDuration: {self.duration_ms:.2f} ms\t"
                f"Billed Duration: {self.billed_duration_ms()} ms\tMemory Size: {self.memory_mb} MB\t"
                f"Max Memory Used: {self.max_memory_used_mb} MB\t")
        if self.init_duration_ms is not None:
            line += f"Init Duration: {self.init_duration_ms:.2f} ms\t"
        if self.status == "timeout":
            line += "Status: timeout\t"
        elif (self.status in ("error", "failure") and self.error_type
              and self.error_type.startswith(PLATFORM_ERROR_PREFIXES)):
            line += f"Status: error\tError Type: {self.error_type}\t"
        return line

    def events(self) -> list[Event]:
        """Every event this invocation adds to its stream, in order."""
        events = [(line.timestamp_ms, line.message + "\n") for line in self.init_log]
        events.append((self.started_ms, f"START RequestId: {self.request_id} Version: {self.version}\n"))
        events.extend((line.timestamp_ms, line.message + "\n") for line in self.log)
        events.append((self.finished_ms, f"END RequestId: {self.request_id}\n"))
        events.append((self.finished_ms, self.report_line() + "\n"))
        return events

    def stored_chars(self) -> int:
        """The length of all its messages, as DescribeLogStreams counts storedBytes."""
        return (self.output_chars + len(self.init_log) + len(self.log)
                + len(self.request_id) * 2 + len(self.version) + 44  # START and END with their newlines
                + self._report_chars() + 1)

    def _report_chars(self) -> int:
        """len(report_line()), counted without rendering it (a flush does this per invocation);
        the constants are the lengths of report_line()'s fixed text (tests compare the two)."""
        chars = (92 + len(self.request_id) + len(f"{self.duration_ms:.2f}") + len(str(self.billed_duration_ms()))
                 + len(str(self.memory_mb)) + len(str(self.max_memory_used_mb)))
        if self.init_duration_ms is not None:
            chars += 19 + len(f"{self.init_duration_ms:.2f}")
        if self.status == "timeout":
            chars += 16
        elif (self.status in ("error", "failure") and self.error_type
              and self.error_type.startswith(PLATFORM_ERROR_PREFIXES)):
            chars += 27 + len(self.error_type)
        return chars

    def time_range(self) -> tuple[int, int]:
        """The earliest and latest timestamps of its events."""
        low, high = self.started_ms, self.finished_ms
        for lines in (self.init_log, self.log):
            for line in lines:
                ts = line.timestamp_ms
                if ts < low:
                    low = ts
                elif ts > high:
                    high = ts
        return low, high

    def encode(self) -> tuple[Any, ...]:
        """The record as plain values, for a log chunk (`decode` reverses it)."""
        return (self.request_id, self.version, self.started_ms, self.finished_ms, self.duration_ms,
                self.init_duration_ms, self.memory_mb, self.max_memory_used_mb, self.status, self.error_type,
                [(line.timestamp_ms, line.message) for line in self.init_log] if self.init_log else (),
                [(line.timestamp_ms, line.message) for line in self.log] if self.log else ())

    @classmethod
    def decode(cls, values: list[Any]) -> InvocationLog:
        *head, init_log, log = values
        return cls(*head, [StoredLine(ts, message) for ts, message in init_log],
                   [StoredLine(ts, message) for ts, message in log])
