"""On-failure destination records for stream (and Kafka) mappings (spec §4.4).

A discarded batch is described, not copied: the record names the shard and the sequence
range (except for S3, which also gets the whole event). The record is stored in the
outbox in the transaction that moves the checkpoint past the batch, so it is sent
(and retried) even across a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from lamina.events.checkpoints import Write
from lamina.events.dispatch import Outcome
from lamina.events.mapping_model import EventSourceMapping, SourceKind
from lamina.invoke.outbox import Delivery, Outbox


@dataclass(frozen=True)
class DiscardedBatch:
    condition: str  # RetryAttemptsExhausted | RecordAgeExceeded | MaximumPayloadSizeExceeded
    invoke_count: int
    outcome: Outcome | None  # the last invocation, if there was one
    batch_info: dict[str, Any]
    event: bytes  # the event as the function got (or would have got) it


def stream_batch_info(mapping: EventSourceMapping, shard_id: str, records: list[dict[str, Any]],
                      arrivals: list[float]) -> dict[str, Any]:
    """KinesisBatchInfo / DDBStreamBatchInfo of a batch of stream records."""
    return {
        "shardId": shard_id,
        "startSequenceNumber": records[0]["sequence"],
        "endSequenceNumber": records[-1]["sequence"],
        "approximateArrivalOfFirstRecord": _iso(min(arrivals)),
        "approximateArrivalOfLastRecord": _iso(max(arrivals)),
        "batchSize": len(records),
        "streamArn": mapping.source_arn,
    }


def failure_record(mapping: EventSourceMapping, discarded: DiscardedBatch, with_payload: bool) -> bytes:
    outcome = discarded.outcome
    info_key = {SourceKind.KINESIS: "KinesisBatchInfo", SourceKind.DYNAMODB: "DDBStreamBatchInfo",
                SourceKind.KAFKA: "KafkaBatchInfo"}[mapping.kind]
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": outcome.request_id if outcome else "",
            "functionArn": mapping.function_arn,
            "condition": discarded.condition,
            "approximateInvokeCount": discarded.invoke_count,
        },
        "responseContext": outcome.response_context() if outcome else None,
        "version": "1.0",
        "timestamp": _iso(datetime.now(UTC).timestamp()),
        info_key: discarded.batch_info,
    }
    if with_payload:
        record["payload"] = discarded.event.decode()
    return orjson.dumps(record)


class FailureDestinations:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def record(self, mapping: EventSourceMapping, discarded: DiscardedBatch) -> tuple[Write, Delivery] | None:
        """The write that stores the on-failure record (run it with the checkpoint), and
        the delivery to hand to `queued` once committed; None without a destination."""
        target = mapping.on_failure_destination
        if not target:
            return None
        body = failure_record(mapping, discarded, with_payload=target.split(":")[2:3] == ["s3"])
        request_id = discarded.outcome.request_id if discarded.outcome else mapping.uuid
        delivery = Delivery("destination", mapping.account_id, mapping.region, mapping.function_name, request_id,
                            target, body, {}, {"detail_type": "Lambda Function Invocation Result - Failure",
                                               "function_arn": mapping.function_arn,
                                               "function_name": mapping.function_name})
        return self.outbox.record(delivery), delivery

    def queued(self, delivery: Delivery) -> None:
        self.outbox.queued(delivery)


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
