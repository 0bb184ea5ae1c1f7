"""The events Lambda hands a function for each source (spec §4.3), built from what the
source's API returned."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

# SQS system attributes a Lambda event carries (the FIFO ones only on FIFO queues).
_SQS_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
                   "AWSTraceHeader", "SequenceNumber", "MessageGroupId", "MessageDeduplicationId",
                   "DeadLetterQueueSourceArn")


# ---------------------------------------------------------------- SQS


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message (as ReceiveMessage returns it through boto3) as a Records[] entry."""
    received = message.get("Attributes") or {}
    attributes = {name: str(received[name]) for name in _SQS_ATTRIBUTES if name in received}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": {name: _sqs_message_attribute(value)
                              for name, value in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _sqs_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    if "StringValue" in value:
        shown["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shown["binaryValue"] = _b64(value["BinaryValue"])
    shown["stringListValues"] = list(value.get("StringListValues") or [])
    shown["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues") or []]
    shown["dataType"] = value.get("DataType", "String")
    return shown


# ---------------------------------------------------------------- Kinesis and DynamoDB Streams


def kinesis_record(record: dict[str, Any], shard_id: str, stream_arn: str, region: str,
                   role: str) -> dict[str, Any]:
    """A Kinesis GetRecords record (through boto3: Data is bytes, the time a datetime)."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": _b64(record["Data"]),
            "approximateArrivalTimestamp": epoch_seconds(record["ApproximateArrivalTimestamp"]),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def dynamodb_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A DynamoDB Streams GetRecords record; its `dynamodb` images stay typed ({"S": ...})."""
    change = dict(record["dynamodb"])
    if "ApproximateCreationDateTime" in change:
        change["ApproximateCreationDateTime"] = _whole_if_whole(epoch_seconds(change["ApproximateCreationDateTime"]))
    shown: dict[str, Any] = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }
    if record.get("userIdentity"):
        shown["userIdentity"] = record["userIdentity"]
    return shown


def streams_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def tumbling_window_event(records: list[dict[str, Any]], *, window_start: float, window_end: float,
                          state: dict[str, Any], shard_id: str, stream_arn: str, final: bool,
                          terminated_early: bool) -> dict[str, Any]:
    return {
        "Records": records,
        "window": {"start": iso_time(window_start), "end": iso_time(window_end)},
        "state": state,
        "shardId": shard_id,
        "eventSourceARN": stream_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": terminated_early,
    }


# ---------------------------------------------------------------- RabbitMQ


def rmq_message(*, properties: dict[str, Any], headers: dict[str, Any] | None, redelivered: bool,
                body: bytes) -> dict[str, Any]:
    """A RabbitMQ delivery as an entry of rmqMessagesByQueue. `properties` holds the AMQP
    basic properties by their Java-client names (as Lambda shows them)."""
    basic = {
        "contentType": properties.get("contentType"),
        "contentEncoding": properties.get("contentEncoding"),
        "headers": None if headers is None else {k: rmq_header_value(v) for k, v in headers.items()},
        "deliveryMode": properties.get("deliveryMode"),
        "priority": properties.get("priority"),
        "correlationId": properties.get("correlationId"),
        "replyTo": properties.get("replyTo"),
        "expiration": properties.get("expiration"),
        "messageId": properties.get("messageId"),
        "timestamp": _java_date(properties.get("timestamp")),
        "type": properties.get("type"),
        "userId": properties.get("userId"),
        "appId": properties.get("appId"),
        "clusterId": properties.get("clusterId"),
        "bodySize": len(body),
    }
    return {"basicProperties": basic, "redelivered": redelivered, "data": _b64(body)}


def rmq_header_value(value: Any) -> Any:
    """Lambda shows text header values as their bytes and other values as they are."""
    if isinstance(value, bytes):
        return {"bytes": list(value)}
    if isinstance(value, str):
        return {"bytes": list(value.encode())}
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: rmq_header_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rmq_header_value(v) for v in value]
    return value


def rmq_event(broker_arn: str, by_queue: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"eventSource": "aws:rmq", "eventSourceArn": broker_arn, "rmqMessagesByQueue": by_queue}


def rmq_queue_key(queue: str, virtual_host: str) -> str:
    return f"{queue}::{virtual_host}"


# ---------------------------------------------------------------- Kafka


def kafka_record(*, topic: str, partition: int, offset: int, timestamp_ms: int, timestamp_type: str,
                 key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> dict[str, Any]:
    record: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offset, "timestamp": timestamp_ms,
                              "timestampType": timestamp_type}
    if key is not None:
        record["key"] = _b64(key)
    if value is not None:
        record["value"] = _b64(value)
    record["headers"] = [{name: list(data or b"")} for name, data in headers]
    return record


def kafka_event(*, bootstrap_servers: str, records: dict[str, list[dict[str, Any]]],
                cluster_arn: str | None) -> dict[str, Any]:
    if cluster_arn:
        return {"eventSource": "aws:kafka", "eventSourceArn": cluster_arn, "bootstrapServers": bootstrap_servers,
                "records": records}
    return {"eventSource": "SelfManagedKafka", "bootstrapServers": bootstrap_servers, "records": records}


# ---------------------------------------------------------------- helpers


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def epoch_seconds(moment: datetime | float | int) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def _whole_if_whole(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def iso_time(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _java_date(value: Any) -> str | None:
    """AMQP timestamps as Lambda prints them (Java's default date format, in UTC)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"
