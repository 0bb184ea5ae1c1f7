"""Batch limits shared by every source: a record count, and the 6 MB synchronous payload
the batch has to fit in once it is wrapped in its event (spec §4.2)."""

from __future__ import annotations

from typing import Any

import orjson

PAYLOAD_LIMIT = 6_291_456
# Room for the event's envelope around the records (keys, window, state of tumbling windows).
ENVELOPE_ALLOWANCE = 4_096


def record_size(record: Any) -> int:
    """Bytes a record adds to the event's JSON (with its separating comma)."""
    return len(orjson.dumps(record)) + 1


class BatchBudget:
    """What a batch may still take: records and payload bytes."""

    __slots__ = ("max_records", "max_bytes", "records", "bytes")

    def __init__(self, max_records: int, max_bytes: int = PAYLOAD_LIMIT - ENVELOPE_ALLOWANCE) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.records = 0
        self.bytes = 0

    def fits(self, size: int) -> bool:
        return self.records < self.max_records and self.bytes + size <= self.max_bytes

    def take(self, size: int) -> None:
        self.records += 1
        self.bytes += size

    @property
    def full(self) -> bool:
        return self.records >= self.max_records

    def oversized(self, size: int) -> bool:
        """A record that cannot fit even in an empty batch."""
        return size > self.max_bytes
