"""Self-managed Kafka mappings end to end, against a real Kafka-protocol broker (see
kafka_broker.py for which one): event shape, committed offsets, filtering, retries and
the on-failure destination."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from esm_helpers import deploy, logged_events, unique, wait_for, wait_for_events
from kafka_broker import KafkaBroker


@pytest.fixture(scope="module")
def kafka():
    broker = KafkaBroker().start()
    if broker.bootstrap is None:
        pytest.skip(broker.reason)
    yield broker.bootstrap
    broker.stop()


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes, list]]) -> None:
    async def _send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for key, value, headers in messages:
                await producer.send_and_wait(topic, value, key=key, headers=headers, partition=0)
        finally:
            await producer.stop()

    asyncio.run(_send())


def committed(bootstrap: str, topic: str, group: str) -> int | None:
    async def _read() -> int | None:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            return await consumer.committed(TopicPartition(topic, 0))
        finally:
            await consumer.stop()

    return asyncio.run(_read())


def records_of(events: list[dict]) -> list[dict]:
    return [r for e in events for records in e["records"].values() for r in records]


def create(client, name: str, kafka: str, topic: str, **extra) -> dict:
    return client.create_event_source_mapping(
        FunctionName=name, Topics=[topic], StartingPosition="TRIM_HORIZON",
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka]}}, **extra)


def test_records_arrive_in_lambda_shape_and_offsets_are_committed(client, lam, kafka):
    name, topic, group = "kafka-ok", unique("topic"), unique("group")
    deploy(client, name)
    produce(kafka, topic, [(b"key-0", b'{"n": 0}', [("trace", b"abc")]), (None, b"plain", [])])
    created = create(client, name, kafka, topic, SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": group},
                     BatchSize=10)
    assert created["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": group}
    assert created["Topics"] == [topic] and created["StartingPosition"] == "TRIM_HORIZON"
    events = wait_for_events(lam, name, 2, records=lambda e: records_of([e]))
    event = events[0]
    assert event["eventSource"] == "SelfManagedKafka" and event["bootstrapServers"] == kafka
    assert list(event["records"]) == [f"{topic}-0"]
    first, second = records_of(events)
    assert (first["topic"], first["partition"], first["offset"]) == (topic, 0, 0)
    assert base64.b64decode(first["key"]) == b"key-0" and base64.b64decode(first["value"]) == b'{"n": 0}'
    assert first["headers"] == [{"trace": list(b"abc")}]
    assert first["timestampType"] == "CREATE_TIME" and isinstance(first["timestamp"], int)
    assert second["offset"] == 1 and "key" not in second
    wait_for(lambda: committed(kafka, topic, group) == 2, what="offsets committed")


def test_filtering_on_value(client, lam, kafka):
    name, topic = "kafka-filter", unique("topic")
    deploy(client, name)
    produce(kafka, topic, [(None, json.dumps({"level": level}).encode(), []) for level in ("info", "error", "info")])
    create(client, name, kafka, topic, FilterCriteria={"Filters": [{"Pattern": json.dumps({"value": {"level": ["error"]}})}]})
    events = wait_for_events(lam, name, 1, records=lambda e: records_of([e]))
    assert [json.loads(base64.b64decode(r["value"]))["level"] for r in records_of(events)] == ["error"]


def test_failing_batch_is_retried_then_sent_on_failure(client, lam, kafka, aws):
    name, topic, group = "kafka-fails", unique("topic"), unique("group")
    deploy(client, name, "    raise ValueError('cannot handle')")
    url, queue_arn = aws.queue(unique("kafka-failures"))
    produce(kafka, topic, [(None, b"doomed", [])])
    create(client, name, kafka, topic, MaximumRetryAttempts=1,
           SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": group},
           DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [record] = aws.receive_json(url, 1)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    info = record["KafkaBatchInfo"]
    assert info["batchSize"] == 1 and info["bootstrapServers"] == kafka
    assert info["recordsInfo"][f"{topic}-0"]["firstRecordOffset"] == "0"
    assert len(records_of(logged_events(lam, name))) == 2
    wait_for(lambda: committed(kafka, topic, group) == 1, what="the partition moved on")


def test_latest_starts_after_existing_records(client, lam, kafka):
    name, topic, group = "kafka-latest", unique("topic"), unique("group")
    deploy(client, name)
    produce(kafka, topic, [(None, b"old", [])])
    uuid = client.create_event_source_mapping(
        FunctionName=name, Topics=[topic], StartingPosition="LATEST",
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka]}},
        SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": group})["UUID"]
    # The starting position is committed as soon as the partition is assigned.
    wait_for(lambda: committed(kafka, topic, group) == 1, what="the LATEST position committed")
    produce(kafka, topic, [(None, b"new", [])])
    events = wait_for_events(lam, name, 1, records=lambda e: records_of([e]))
    assert [base64.b64decode(r["value"]) for r in records_of(events)] == [b"new"]
    assert client.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"
