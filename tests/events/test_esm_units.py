"""Unit tests of event source mapping pieces: partial batch responses, per-source
parameters and defaults, batch budgets, event shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lamina.errors import InvalidParameterValueException
from lamina.events import event_shapes
from lamina.events.batching import BatchBudget
from lamina.events.item_failures import WHOLE_BATCH, reported_failures
from lamina.events.mapping_model import SourceKind
from lamina.events.parameters import new_configuration, source_kind, updated_configuration

IDS = {"a", "b", "c"}


@pytest.mark.parametrize("response, expected", [
    (None, []),
    ({}, []),
    ({"batchItemFailures": None}, []),
    ({"batchItemFailures": []}, []),
    ({"state": {}}, []),
    ({"batchItemFailures": [{"itemIdentifier": "b"}]}, ["b"]),
    ({"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}]}, ["c", "a"]),
    ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, WHOLE_BATCH),
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, WHOLE_BATCH),
    ({"batchItemFailures": [{"itemIdentifier": None}]}, WHOLE_BATCH),
    ({"batchItemFailures": [{"itemId": "a"}]}, WHOLE_BATCH),
    ({"batchItemFailures": "a"}, WHOLE_BATCH),
    ("not an object", WHOLE_BATCH),
    ([{"itemIdentifier": "a"}], WHOLE_BATCH),
])
def test_reported_failures(response, expected):
    assert reported_failures(response, IDS) == expected


def _config(kind_params: dict) -> tuple[SourceKind, dict]:
    kind = source_kind(kind_params)
    return kind, new_configuration(kind, kind_params, uuid_="u", mapping_arn="arn", function_arn="f", now=1.0)


def test_source_kinds():
    assert source_kind({"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q"}) is SourceKind.SQS
    assert source_kind({"EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/s"}) is SourceKind.KINESIS
    assert source_kind({"EventSourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024"}) \
        is SourceKind.DYNAMODB
    assert source_kind({"SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["h:9092"]}}}) \
        is SourceKind.KAFKA
    assert source_kind({"EventSourceArn": "arn:aws:mq:us-east-1:000000000000:broker:b:b-1"}) is SourceKind.RABBITMQ
    with pytest.raises(InvalidParameterValueException):
        source_kind({"EventSourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/t"})
    with pytest.raises(InvalidParameterValueException):
        source_kind({})


def test_defaults_per_source():
    _, sqs = _config({"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q"})
    assert (sqs["BatchSize"], sqs["MaximumBatchingWindowInSeconds"], sqs["FunctionResponseTypes"]) == (10, 0, [])
    assert "LastProcessingResult" not in sqs
    _, kafka = _config({"SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["h:9092"]}},
                        "Topics": ["t"], "StartingPosition": "LATEST"})
    assert kafka["BatchSize"] == 100 and kafka["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "u"}


def test_update_removes_filters_and_rechecks_rules():
    kind, config = _config({"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q",
                            "FilterCriteria": {"Filters": [{"Pattern": '{"body": {"a": [1]}}'}]}})
    assert "FilterCriteria" not in updated_configuration(kind, config, {"FilterCriteria": {}})
    with pytest.raises(InvalidParameterValueException):
        updated_configuration(kind, config, {"BatchSize": 50})  # needs a batching window
    assert updated_configuration(kind, config, {"BatchSize": 50, "MaximumBatchingWindowInSeconds": 1})["BatchSize"] \
        == 50
    with pytest.raises(InvalidParameterValueException):
        updated_configuration(kind, config, {"ParallelizationFactor": 2})


def test_batch_budget_counts_records_and_bytes():
    budget = BatchBudget(3, max_bytes=100)
    assert budget.fits(60)
    budget.take(60)
    assert not budget.fits(41) and budget.fits(40)
    budget.take(10)
    budget.take(10)
    assert budget.full and not budget.fits(1)
    assert budget.oversized(101)


def test_rabbitmq_header_values_and_timestamp():
    message = event_shapes.rmq_message(
        properties={"timestamp": datetime(2024, 1, 2, 0, 5, 6, tzinfo=UTC), "deliveryMode": 1},
        headers={"text": "ab", "raw": b"\x01", "number": 7, "nested": {"x": "y"}}, redelivered=True, body=b"hi")
    basic = message["basicProperties"]
    assert basic["headers"] == {"text": {"bytes": [97, 98]}, "raw": {"bytes": [1]}, "number": 7,
                                "nested": {"x": {"bytes": [121]}}}
    assert basic["timestamp"] == "Jan 2, 2024, 12:05:06 AM"
    assert basic["bodySize"] == 2 and message["data"] == "aGk=" and message["redelivered"] is True


def test_kafka_record_shape():
    record = event_shapes.kafka_record(topic="t", partition=1, offset=5, timestamp_ms=1700000000000,
                                       timestamp_type="CREATE_TIME", key=b"k", value=b"v", headers=[("h", b"\x02")])
    assert record == {"topic": "t", "partition": 1, "offset": 5, "timestamp": 1700000000000,
                      "timestampType": "CREATE_TIME", "key": "aw==", "value": "dg==", "headers": [{"h": [2]}]}
    event = event_shapes.kafka_event(bootstrap_servers="h:9092", records={"t-1": [record]}, cluster_arn=None)
    assert event["eventSource"] == "SelfManagedKafka" and "eventSourceArn" not in event
