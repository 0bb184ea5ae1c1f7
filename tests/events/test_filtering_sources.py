"""Filtering records as each event source delivers them (spec §4.3 shapes, §5 data handling)."""

from __future__ import annotations

import base64
import copy
import json
from types import MappingProxyType
from typing import Any

import pytest

from lamina.events.filtering import EventSource, RecordFilter, compile_filters, compiler, sources


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def sqs_record(body: str, **message_attributes: str) -> dict[str, Any]:
    return {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "messageAttributes": {
            name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            for name, value in message_attributes.items()
        },
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
        "awsRegion": "us-east-2",
    }


def kinesis_record(data: str | bytes, partition_key: str = "1", *, encoded: str | None = None) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
            "data": b64(data) if encoded is None else encoded,
            "approximateArrivalTimestamp": 1545084650.987,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
        "awsRegion": "us-east-2",
        "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
    }


def dynamodb_record(event_name: str = "INSERT", item_id: str = "101", message: str = "New item!") -> dict[str, Any]:
    return {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1428537600,
            "Keys": {"Id": {"N": item_id}},
            "NewImage": {"Message": {"S": message}, "Id": {"N": item_id}},
            "SequenceNumber": "4421584500000000017450439091",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899",
    }


def kafka_record(value: str | bytes | None, key: str | bytes | None = None, topic: str = "mytopic") -> dict[str, Any]:
    record: dict[str, Any] = {
        "topic": topic,
        "partition": 0,
        "offset": 15,
        "timestamp": 1545084650987,
        "timestampType": "CREATE_TIME",
        "headers": [{"headerKey": [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101]}],
    }
    if value is not None:
        record["value"] = b64(value)
    if key is not None:
        record["key"] = b64(key)
    return record


def activemq_message(data: str | bytes, message_type: str = "jms/text-message") -> dict[str, Any]:
    return {
        "messageID": "ID:b-9bcfa592-423a-4942-879d-eb284b418fc8-1.mq.us-west-2.amazonaws.com-37557-1234520418293-4:1:1:1:1",
        "messageType": message_type,
        "deliveryMode": 1,
        "replyTo": None,
        "type": None,
        "expiration": "60000",
        "priority": 1,
        "correlationId": "myJMSCoID",
        "redelivered": False,
        "destination": {"physicalName": "testQueue"},
        "data": b64(data),
        "timestamp": 1598827811958,
        "brokerInTime": 1598827811958,
        "brokerOutTime": 1598827811959,
    }


def rabbitmq_message(data: str | bytes, content_type: str = "application/json") -> dict[str, Any]:
    return {
        "basicProperties": {
            "contentType": content_type,
            "contentEncoding": None,
            "headers": {"header1": {"bytes": [118, 97, 108, 117, 101, 49]}, "numberInHeader": 10},
            "deliveryMode": 1,
            "priority": 34,
            "correlationId": None,
            "replyTo": None,
            "expiration": "60000",
            "messageId": None,
            "timestamp": "Jan 1, 1970, 12:33:41 AM",
            "type": None,
            "userId": "AIDACKCEVSQ6C2EXAMPLE",
            "appId": None,
            "clusterId": None,
            "bodySize": 80,
        },
        "redelivered": False,
        "data": b64(data),
    }


def record_filter(source: str, *patterns: dict[str, Any] | str) -> RecordFilter:
    texts = [p if isinstance(p, str) else json.dumps(p) for p in patterns]
    return compile_filters({"Filters": [{"Pattern": text} for text in texts]}, source)


ORDER_JSON = json.dumps({"record": 12345, "order": {"type": "buy", "stock": "ANYCO", "quantity": 1000}})
NOT_UTF8 = b"\xff\xfe\x00broken"

# (source, pattern, record, expected)
SOURCE_CASES = [
    # ---- SQS: body is JSON only if it parses as an object or array
    ("sqs json body, json pattern", "sqs", {"body": {"RequestCode": ["BBBB"]}}, sqs_record('{"RequestCode": "BBBB"}'), True),
    ("sqs json body, json pattern, other value", "sqs", {"body": {"RequestCode": ["BBBB"]}}, sqs_record('{"RequestCode": "AAAA"}'), False),
    ("sqs plain body, json pattern: dropped", "sqs", {"body": {"RequestCode": ["BBBB"]}}, sqs_record("RequestCode BBBB"), False),
    ("sqs plain body, json absence pattern: still dropped", "sqs", {"body": {"x": [{"exists": False}]}}, sqs_record("hello"), False),
    ("sqs json body, json absence pattern", "sqs", {"body": {"x": [{"exists": False}]}}, sqs_record('{"y": 1}'), True),
    ("sqs json body, plain pattern with its very text: dropped", "sqs", {"body": ['{"a":1}']}, sqs_record('{"a":1}'), False),
    ("sqs json body, plain exists pattern: dropped", "sqs", {"body": [{"exists": True}]}, sqs_record('{"a":1}'), False),
    ("sqs plain body, plain pattern", "sqs", {"body": ["hello"]}, sqs_record("hello"), True),
    ("sqs plain body, plain pattern, other text", "sqs", {"body": ["hello"]}, sqs_record("hello!"), False),
    ("sqs plain body, prefix", "sqs", {"body": [{"prefix": "ORDER#"}]}, sqs_record("ORDER#42"), True),
    ("sqs JSON scalar body is plain text", "sqs", {"body": ["42"]}, sqs_record("42"), True),
    ("sqs JSON scalar body is not a number", "sqs", {"body": [42]}, sqs_record("42"), False),
    ("sqs JSON scalar body vs object pattern", "sqs", {"body": {"a": [1]}}, sqs_record('"quoted"'), False),
    ("sqs body that only looks like JSON is plain", "sqs", {"body": [{"prefix": "{"}]}, sqs_record('{"broken": '), True),
    ("sqs broken JSON body vs object pattern", "sqs", {"body": {"broken": [{"exists": False}]}}, sqs_record('{"broken": '), False),
    ("sqs JSON array body, element match", "sqs", {"body": {"a": [2]}}, sqs_record('[{"a": 1}, {"a": 2}]'), True),
    ("sqs JSON array body vs plain pattern", "sqs", {"body": ["x"]}, sqs_record('["x"]'), False),
    ("sqs JSON body with surrounding whitespace", "sqs", {"body": {"a": ["x"]}}, sqs_record(' \n{"a": "x"}\t'), True),
    ("sqs JSON body keeps number text", "sqs", {"body": {"p": [300.0]}}, sqs_record('{"p": 300.0}'), True),
    ("sqs JSON body number text differs", "sqs", {"body": {"p": [300]}}, sqs_record('{"p": 300.0}'), False),
    ("sqs JSON body numeric", "sqs", {"body": {"p": [{"numeric": [">=", 300]}]}}, sqs_record('{"p": 3e2}'), True),
    ("sqs metadata only, plain body", "sqs", {"attributes": {"ApproximateReceiveCount": ["1"]}}, sqs_record("plain"), True),
    ("sqs metadata only, json body", "sqs", {"attributes": {"ApproximateReceiveCount": ["2"]}}, sqs_record("{}"), False),
    ("sqs message attribute", "sqs", {"messageAttributes": {"Type": {"stringValue": ["Order"]}}}, sqs_record("x", Type="Order"), True),
    ("sqs message attribute missing", "sqs", {"messageAttributes": {"Type": {"stringValue": ["Order"]}}}, sqs_record("x"), False),
    ("sqs metadata and body", "sqs", {"eventSource": ["aws:sqs"], "body": {"a": ["x"]}}, sqs_record('{"a": "x"}'), True),
    ("sqs metadata and body, metadata fails", "sqs", {"awsRegion": ["eu-west-1"], "body": {"a": ["x"]}}, sqs_record('{"a": "x"}'), False),
    ("sqs $or across body formats", "sqs", {"$or": [{"body": {"a": ["x"]}}, {"body": ["x"]}]}, sqs_record("x"), True),
    # ---- Kinesis: data is base64 of JSON; the kinesis fields are metadata beside the record's own
    ("kinesis data (Lambda docs order example)", "kinesis", {"data": {"order": {"type": ["buy"]}}}, kinesis_record(ORDER_JSON), True),
    ("kinesis data other value", "kinesis", {"data": {"order": {"type": ["sell"]}}}, kinesis_record(ORDER_JSON), False),
    ("kinesis data numeric", "kinesis", {"data": {"order": {"quantity": [{"numeric": [">", 500]}]}}}, kinesis_record(ORDER_JSON), True),
    ("kinesis partitionKey and data", "kinesis", {"partitionKey": ["1"], "data": {"record": [12345]}}, kinesis_record(ORDER_JSON), True),
    ("kinesis partitionKey fails", "kinesis", {"partitionKey": ["2"], "data": {"record": [12345]}}, kinesis_record(ORDER_JSON), False),
    ("kinesis non-JSON data with data pattern: dropped", "kinesis", {"data": {"a": ["x"]}}, kinesis_record("plain text"), False),
    ("kinesis non-JSON data with absence pattern: dropped", "kinesis", {"data": {"a": [{"exists": False}]}}, kinesis_record("plain"), False),
    ("kinesis JSON scalar data: dropped", "kinesis", {"data": {"a": [{"exists": False}]}}, kinesis_record("42"), False),
    ("kinesis non-UTF-8 data: dropped", "kinesis", {"data": {"a": [{"exists": False}]}}, kinesis_record(NOT_UTF8), False),
    ("kinesis bad base64: dropped", "kinesis", {"data": {"a": [{"exists": False}]}}, kinesis_record("", encoded="%%%"), False),
    ("kinesis non-JSON data, metadata filter only", "kinesis", {"partitionKey": ["1"]}, kinesis_record(NOT_UTF8), True),
    ("kinesis bad base64, metadata filter only", "kinesis", {"partitionKey": ["1"]}, kinesis_record("", encoded="%%%"), True),
    ("kinesis record-level metadata", "kinesis", {"eventName": ["aws:kinesis:record"], "awsRegion": ["us-east-2"]}, kinesis_record("x"), True),
    ("kinesis arrival timestamp", "kinesis", {"approximateArrivalTimestamp": [{"numeric": [">", 1545084650]}]}, kinesis_record("x"), True),
    ("kinesis nested kinesis object still addressable", "kinesis", {"kinesis": {"partitionKey": ["1"]}}, kinesis_record("x"), True),
    # ---- DynamoDB: dynamodb is already JSON; attribute values are typed and N is a string
    ("dynamodb keys (Lambda docs)", "dynamodb", {"dynamodb": {"Keys": {"Id": {"N": ["101"]}}}}, dynamodb_record(), True),
    ("dynamodb keys other id", "dynamodb", {"dynamodb": {"Keys": {"Id": {"N": ["101"]}}}}, dynamodb_record(item_id="102"), False),
    ("dynamodb eventName", "dynamodb", {"eventName": ["INSERT"]}, dynamodb_record(), True),
    ("dynamodb eventName other", "dynamodb", {"eventName": ["REMOVE"]}, dynamodb_record("MODIFY"), False),
    ("dynamodb N is a string: numeric never matches", "dynamodb", {"dynamodb": {"NewImage": {"Id": {"N": [{"numeric": [">", 100]}]}}}}, dynamodb_record(), False),
    ("dynamodb N is a string: prefix matches", "dynamodb", {"dynamodb": {"NewImage": {"Id": {"N": [{"prefix": "10"}]}}}}, dynamodb_record(), True),
    ("dynamodb S value", "dynamodb", {"dynamodb": {"NewImage": {"Message": {"S": [{"equals-ignore-case": "NEW ITEM!"}]}}}}, dynamodb_record(), True),
    ("dynamodb SizeBytes is a number", "dynamodb", {"dynamodb": {"SizeBytes": [{"numeric": ["<", 100]}]}}, dynamodb_record(), True),
    ("dynamodb OldImage absent on INSERT", "dynamodb", {"dynamodb": {"OldImage": {"Id": {"N": [{"exists": False}]}}}}, dynamodb_record(), True),
    ("dynamodb payload not an object: dropped", "dynamodb", {"dynamodb": {"x": [{"exists": False}]}}, {**dynamodb_record(), "dynamodb": "?"}, False),
    # ---- Kafka: key and value are base64 of UTF-8; on mismatch only metadata filters apply
    ("kafka JSON value (Lambda docs)", "kafka", {"value": {"device_ID": [{"prefix": "AB"}]}}, kafka_record('{"device_ID": "AB1234", "session": {"duration": 162}}'), True),
    ("kafka JSON value other", "kafka", {"value": {"device_ID": [{"prefix": "AB"}]}}, kafka_record('{"device_ID": "CD1234"}'), False),
    ("kafka plain value (Lambda docs)", "kafka", {"value": [{"anything-but": ["error"]}]}, kafka_record("all good"), True),
    ("kafka plain value excluded", "kafka", {"value": [{"anything-but": ["error"]}]}, kafka_record("error"), False),
    ("kafka plain value vs JSON pattern: payload filter skipped", "kafka", {"value": {"device_ID": ["AB"]}}, kafka_record("error"), True),
    ("kafka JSON value vs plain pattern: payload filter skipped", "kafka", {"value": ["error"]}, kafka_record('{"a": 1}'), True),
    ("kafka mismatch, metadata still applies", "kafka", {"topic": ["other"], "value": {"device_ID": ["AB"]}}, kafka_record("error"), False),
    ("kafka mismatch, metadata passes", "kafka", {"topic": ["mytopic"], "value": {"device_ID": ["AB"]}}, kafka_record("error"), True),
    ("kafka non-UTF-8 value: payload filter skipped", "kafka", {"value": ["x"]}, kafka_record(NOT_UTF8), True),
    ("kafka non-UTF-8 value, metadata fails", "kafka", {"partition": [1], "value": ["x"]}, kafka_record(NOT_UTF8), False),
    ("kafka key JSON", "kafka", {"key": {"tenant": ["acme"]}}, kafka_record("v", key='{"tenant": "acme"}'), True),
    ("kafka key plain", "kafka", {"key": [{"suffix": "-42"}]}, kafka_record("v", key="order-42"), True),
    ("kafka key plain, no match", "kafka", {"key": [{"suffix": "-42"}]}, kafka_record("v", key="order-43"), False),
    ("kafka missing key", "kafka", {"key": [{"exists": True}]}, kafka_record("v"), False),
    ("kafka missing key, absence", "kafka", {"key": [{"exists": False}]}, kafka_record("v"), True),
    ("kafka metadata numbers", "kafka", {"partition": [0], "offset": [{"numeric": [">=", 15]}], "timestampType": ["CREATE_TIME"]}, kafka_record("v"), True),
    ("kafka headers", "kafka", {"headers": {"headerKey": [104]}}, kafka_record("v"), True),
    # ---- MQ: data is base64 of UTF-8, like Kafka's value
    ("activemq JSON data", "mq", {"data": {"temp": [{"numeric": [">", 30]}]}}, activemq_message('{"temp": 31.5}'), True),
    ("activemq JSON data no match", "mq", {"data": {"temp": [{"numeric": [">", 30]}]}}, activemq_message('{"temp": 29}'), False),
    ("activemq plain data", "mq", {"data": ["ping"]}, activemq_message("ping"), True),
    ("activemq plain data no match", "mq", {"data": ["ping"]}, activemq_message("pong"), False),
    ("activemq mismatch: metadata decides", "mq", {"messageType": ["jms/bytes-message"], "data": {"a": ["x"]}}, activemq_message("text"), False),
    ("activemq mismatch: metadata passes", "mq", {"messageType": ["jms/text-message"], "data": {"a": ["x"]}}, activemq_message("text"), True),
    ("activemq non-UTF-8 data", "mq", {"data": ["x"]}, activemq_message(NOT_UTF8, "jms/bytes-message"), True),
    ("activemq destination", "mq", {"destination": {"physicalName": ["testQueue"]}}, activemq_message("x"), True),
    ("rabbitmq JSON data", "mq", {"data": {"kind": ["order"]}}, rabbitmq_message('{"kind": "order"}'), True),
    ("rabbitmq JSON data no match", "mq", {"data": {"kind": ["order"]}}, rabbitmq_message('{"kind": "refund"}'), False),
    ("rabbitmq basic properties", "mq", {"basicProperties": {"contentType": ["application/json"], "priority": [{"numeric": [">", 10]}]}}, rabbitmq_message("x"), True),
    ("rabbitmq header", "mq", {"basicProperties": {"headers": {"numberInHeader": [10]}}}, rabbitmq_message("x"), True),
    ("rabbitmq header no match", "mq", {"basicProperties": {"headers": {"numberInHeader": [11]}}}, rabbitmq_message("x"), False),
]


@pytest.mark.parametrize(
    ("source", "pattern", "record", "expected"),
    [case[1:] for case in SOURCE_CASES],
    ids=[case[0] for case in SOURCE_CASES],
)
def test_source_record(source: str, pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert record_filter(source, pattern).matches(record) is expected


def test_every_source_has_matching_and_failing_cases() -> None:
    outcomes = {(case[1], case[4]) for case in SOURCE_CASES}
    assert outcomes == {(source.value, expected) for source in EventSource for expected in (True, False)}


# ---------------------------------------------------------------- RecordFilter behaviour


@pytest.mark.parametrize("criteria", [None, {}, {"Filters": []}, {"Filters": None}])
def test_no_filters_passes_everything(criteria: Any) -> None:
    record_filter_ = compile_filters(criteria, "sqs")
    assert record_filter_.is_empty
    assert record_filter_.filter_count == 0
    assert record_filter_.matches(sqs_record("anything"))


def test_filters_are_ored() -> None:
    record_filter_ = record_filter("sqs", {"body": {"a": ["1"]}}, {"body": {"b": ["2"]}}, {"body": ["plain"]})
    assert record_filter_.filter_count == 3
    assert not record_filter_.is_empty
    assert record_filter_.matches(sqs_record('{"a": "1"}'))
    assert record_filter_.matches(sqs_record('{"b": "2"}'))
    assert record_filter_.matches(sqs_record("plain"))
    assert not record_filter_.matches(sqs_record('{"a": "2", "b": "1"}'))
    assert not record_filter_.matches(sqs_record("other"))


def test_split_keeps_order() -> None:
    records = [sqs_record(json.dumps({"n": n})) for n in range(10)]
    kept, dropped = record_filter("sqs", {"body": {"n": [{"numeric": [">=", 5]}]}}).split(records)
    assert [json.loads(r["body"])["n"] for r in kept] == [5, 6, 7, 8, 9]
    assert [json.loads(r["body"])["n"] for r in dropped] == [0, 1, 2, 3, 4]


def test_matching_does_not_change_the_record() -> None:
    records = [sqs_record('{"a": "x"}'), kinesis_record('{"a": "x"}'), kafka_record('{"a": "x"}', key="k")]
    filters = [
        record_filter("sqs", {"body": {"a": ["x"]}}),
        record_filter("kinesis", {"data": {"a": ["x"]}}),
        record_filter("kafka", {"value": {"a": ["x"]}, "key": ["k"]}),
    ]
    for record, record_filter_ in zip(records, filters, strict=True):
        before = copy.deepcopy(record)
        assert record_filter_.matches(record)
        assert record == before


def test_payload_is_not_decoded_when_no_filter_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    metadata_only = record_filter("kinesis", {"partitionKey": ["1"]})

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("payload decoded although no filter reads it")

    monkeypatch.setattr(sources, "_decode_payload", no_decoding)
    assert metadata_only.matches(kinesis_record("", encoded="not base64 at all"))
    assert not metadata_only.matches(kinesis_record("x", partition_key="2"))


def test_patterns_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    record_filter_ = record_filter("sqs", {"body": {"a": ["x"]}}, {"attributes": {"SenderId": ["nobody"]}})
    compiled_loads = compiler.loads

    def no_pattern_parsing(text: str) -> object:
        raise AssertionError(f"pattern parsed again: {text}")

    monkeypatch.setattr(compiler, "loads", no_pattern_parsing)
    assert compiler.loads is not compiled_loads
    assert record_filter_.matches(sqs_record('{"a": "x"}'))
    assert not record_filter_.matches(sqs_record('{"a": "y"}'))


def test_record_may_be_any_mapping() -> None:
    record = MappingProxyType(sqs_record('{"a": "x"}'))
    assert record_filter("sqs", {"body": {"a": ["x"]}}).matches(record)
    assert not record_filter("sqs", {"body": {"a": ["y"]}}).matches(record)


def test_source_accepts_enum_or_value() -> None:
    assert compile_filters(None, EventSource.KINESIS).source is EventSource.KINESIS
    assert compile_filters(None, "dynamodb").source is EventSource.DYNAMODB
