"""DynamoDB Streams through its API (DescribeStream, GetShardIterator, GetRecords)."""

from __future__ import annotations

import orjson

from lamina.events import event_shapes
from lamina.events.aws_clients import AwsClients
from lamina.events.batching import record_size
from lamina.events.mapping_model import EventSourceMapping
from lamina.events.pollers.stream_source import ReadResult, Shard, StreamRecord

MAX_RECORDS_PER_READ = 1_000


class DynamoDbShards:
    idle_poll_seconds = 0.25  # Lambda polls each shard about four times a second
    supports_at_timestamp = False

    def __init__(self, mapping: EventSourceMapping, aws: AwsClients) -> None:
        self.aws = aws
        self.stream_arn = mapping.source_arn
        self.region = self.stream_arn.split(":")[3]

    async def shards(self) -> list[Shard]:
        shards: list[Shard] = []
        params: dict = {"StreamArn": self.stream_arn}
        while True:
            description = (await self.aws.call("dynamodbstreams", self.region, "describe_stream",
                                                **params))["StreamDescription"]
            for shard in description.get("Shards", []):
                shards.append(Shard(shard["ShardId"], (shard["ParentShardId"],) if shard.get("ParentShardId") else ()))
            if not description.get("LastEvaluatedShardId"):
                return shards
            params = {"StreamArn": self.stream_arn, "ExclusiveStartShardId": description["LastEvaluatedShardId"]}

    async def iterator(self, shard_id: str, position: str, *, sequence: str | None = None,
                       timestamp: float | None = None) -> str:
        params: dict = {"StreamArn": self.stream_arn, "ShardId": shard_id, "ShardIteratorType": position}
        if sequence is not None:
            params["SequenceNumber"] = sequence
        return (await self.aws.call("dynamodbstreams", self.region, "get_shard_iterator", **params))["ShardIterator"]

    async def read(self, shard_id: str, iterator: str, limit: int, role: str) -> ReadResult:
        result = await self.aws.call("dynamodbstreams", self.region, "get_records", ShardIterator=iterator,
                                     Limit=min(limit, MAX_RECORDS_PER_READ))
        records = []
        for raw in result.get("Records", []):
            record = event_shapes.dynamodb_record(raw, self.stream_arn, self.region)
            change = record["dynamodb"]
            key = orjson.dumps(change.get("Keys") or {}, option=orjson.OPT_SORT_KEYS).decode()
            records.append(StreamRecord(change["SequenceNumber"], key, float(change.get("ApproximateCreationDateTime", 0)),
                                        record, record_size(record)))
        return ReadResult(records, result.get("NextShardIterator"))
