"""Kinesis Data Streams through the Kinesis API (ListShards, GetShardIterator, GetRecords)."""

from __future__ import annotations

from datetime import UTC, datetime

from lamina.events import event_shapes
from lamina.events.aws_clients import AwsClients
from lamina.events.batching import record_size
from lamina.events.mapping_model import EventSourceMapping
from lamina.events.pollers.stream_source import ReadResult, Shard, StreamRecord

MAX_RECORDS_PER_READ = 10_000


class KinesisShards:
    idle_poll_seconds = 1.0  # Lambda polls each shard about once a second
    supports_at_timestamp = True

    def __init__(self, mapping: EventSourceMapping, aws: AwsClients) -> None:
        self.aws = aws
        self.region = mapping.source_arn.split(":")[3]
        # An enhanced fan-out consumer ARN (…:stream/<name>/consumer/<consumer>:<time>) reads its stream.
        parts = mapping.source_arn.split(":", 5)
        self.stream_arn = ":".join(parts[:5]) + ":" + "/".join(parts[5].split("/")[:2])

    async def shards(self) -> list[Shard]:
        shards: list[Shard] = []
        params: dict = {"StreamARN": self.stream_arn}
        while True:
            page = await self.aws.call("kinesis", self.region, "list_shards", **params)
            for shard in page["Shards"]:
                parents = tuple(p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p)
                shards.append(Shard(shard["ShardId"], parents))
            if not page.get("NextToken"):
                return shards
            params = {"NextToken": page["NextToken"]}

    async def iterator(self, shard_id: str, position: str, *, sequence: str | None = None,
                       timestamp: float | None = None) -> str:
        params: dict = {"StreamARN": self.stream_arn, "ShardId": shard_id, "ShardIteratorType": position}
        if sequence is not None:
            params["StartingSequenceNumber"] = sequence
        if timestamp is not None:
            params["Timestamp"] = datetime.fromtimestamp(timestamp, UTC)
        return (await self.aws.call("kinesis", self.region, "get_shard_iterator", **params))["ShardIterator"]

    async def read(self, shard_id: str, iterator: str, limit: int, role: str) -> ReadResult:
        result = await self.aws.call("kinesis", self.region, "get_records", ShardIterator=iterator,
                                     Limit=min(limit, MAX_RECORDS_PER_READ), StreamARN=self.stream_arn)
        records = []
        for raw in result.get("Records", []):
            record = event_shapes.kinesis_record(raw, shard_id, self.stream_arn, self.region, role)
            records.append(StreamRecord(raw["SequenceNumber"], raw["PartitionKey"],
                                        record["kinesis"]["approximateArrivalTimestamp"], record, record_size(record)))
        return ReadResult(records, result.get("NextShardIterator"), result.get("MillisBehindLatest"))
