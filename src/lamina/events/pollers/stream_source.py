"""What a stream poller needs from Kinesis or DynamoDB Streams, as one interface: the
shards, an iterator at a position, and records in Lambda's shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Shard:
    id: str
    parents: tuple[str, ...]  # a child shard is read only after its parents are finished


@dataclass
class StreamRecord:
    sequence: str
    key: str  # partition key (Kinesis) or item key (DynamoDB): order holds per key
    arrival: float  # epoch seconds
    record: dict[str, Any]  # as the function gets it
    size: int  # bytes it adds to the event

    @property
    def number(self) -> int:
        return int(self.sequence)


@dataclass(frozen=True)
class ReadResult:
    records: list[StreamRecord]
    next_iterator: str | None  # None: the shard is closed and read to its end
    behind_ms: float | None = None


class StreamSource(Protocol):
    idle_poll_seconds: float
    supports_at_timestamp: bool

    async def shards(self) -> list[Shard]: ...

    async def iterator(self, shard_id: str, position: str, *, sequence: str | None = None,
                       timestamp: float | None = None) -> str:
        """position: TRIM_HORIZON | LATEST | AT_TIMESTAMP | AFTER_SEQUENCE_NUMBER."""

    async def read(self, shard_id: str, iterator: str, limit: int, role: str) -> ReadResult: ...
