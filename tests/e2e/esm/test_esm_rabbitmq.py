"""Amazon MQ (RabbitMQ) mappings end to end against the RabbitMQ server on this machine:
the broker ARN is mapped to it by `mq_broker_urls`, and the BASIC_AUTH secret is read
from Secrets Manager (moto's server), as Lambda reads it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aio_pika
import pytest
from esm_helpers import (
    BROKER_ARN,
    deploy,
    logged_events,
    rabbitmq_url,
    reachable,
    unique,
    wait_for,
    wait_for_events,
)

_broker = urlsplit(rabbitmq_url())
pytestmark = pytest.mark.skipif(not reachable(_broker.hostname or "127.0.0.1", _broker.port or 5672),
                                reason=f"no RabbitMQ at {rabbitmq_url()} (start it with `rabbitmq-server -detached`)")

USER = os.environ.get("LAMINA_TEST_RABBITMQ_USER", "guest")
PASSWORD = os.environ.get("LAMINA_TEST_RABBITMQ_PASSWORD", "guest")


def amqp(path: str = "/") -> str:
    return f"amqp://{USER}:{PASSWORD}@{_broker.hostname}:{_broker.port or 5672}/{path.replace('/', '%2F')}"


async def _publish(queue: str, messages: list[aio_pika.Message]) -> None:
    connection = await aio_pika.connect(amqp())
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, auto_delete=False)
        for message in messages:
            await channel.default_exchange.publish(message, routing_key=queue)


async def _depth(queue: str) -> int:
    connection = await aio_pika.connect(amqp())
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, auto_delete=False)
        return declared.declaration_result.message_count


async def _delete(queue: str) -> None:
    connection = await aio_pika.connect(amqp())
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)


@pytest.fixture
def queue():
    name = unique("rmq")
    asyncio.run(_publish(name, []))
    yield name
    asyncio.run(_delete(name))


@pytest.fixture
def secret_arn(aws) -> str:
    secrets = aws.client("secretsmanager")
    return secrets.create_secret(Name=unique("mq-secret"),
                                 SecretString=json.dumps({"username": USER, "password": PASSWORD}))["ARN"]


def create_mapping(client, name: str, queue: str, secret_arn: str, **extra) -> dict:
    return client.create_event_source_mapping(
        EventSourceArn=BROKER_ARN, FunctionName=name, Queues=[queue],
        SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": secret_arn}], **extra)


def messages_of(events: list[dict], queue: str) -> list[dict]:
    return [m for e in events for m in e["rmqMessagesByQueue"].get(f"{queue}::/", [])]


def test_messages_arrive_in_lambda_shape_and_are_acked(client, lam, queue, secret_arn):
    name = "rmq-ok"
    deploy(client, name)
    sent = datetime(2024, 5, 1, 13, 4, 5, tzinfo=UTC)
    asyncio.run(_publish(queue, [
        aio_pika.Message(b'{"n": 1}', content_type="application/json", headers={"source": "test", "count": 3},
                         delivery_mode=aio_pika.DeliveryMode.PERSISTENT, priority=4, correlation_id="c-1",
                         message_id="m-1", timestamp=sent, type="greeting", app_id="tests"),
        aio_pika.Message(b"plain"),
    ]))
    created = create_mapping(client, name, queue, secret_arn, BatchSize=10)
    assert created["Queues"] == [queue] and created["BatchSize"] == 10
    events = wait_for_events(lam, name, 2, records=lambda e: messages_of([e], queue))
    event = events[0]
    assert event["eventSource"] == "aws:rmq" and event["eventSourceArn"] == BROKER_ARN
    assert list(event["rmqMessagesByQueue"]) == [f"{queue}::/"]
    first, second = messages_of(events, queue)
    assert base64.b64decode(first["data"]) == b'{"n": 1}' and base64.b64decode(second["data"]) == b"plain"
    assert first["redelivered"] is False
    basic = first["basicProperties"]
    assert basic["contentType"] == "application/json"
    assert basic["headers"] == {"source": {"bytes": list(b"test")}, "count": 3}
    assert basic["deliveryMode"] == 2 and basic["priority"] == 4
    assert basic["correlationId"] == "c-1" and basic["messageId"] == "m-1"
    assert basic["timestamp"] == "May 1, 2024, 1:04:05 PM"
    assert basic["type"] == "greeting" and basic["appId"] == "tests" and basic["bodySize"] == 8
    assert set(basic) == {"contentType", "contentEncoding", "headers", "deliveryMode", "priority", "correlationId",
                          "replyTo", "expiration", "messageId", "timestamp", "type", "userId", "appId",
                          "clusterId", "bodySize"}
    wait_for(lambda: asyncio.run(_depth(queue)) == 0, what="queue acked empty")


def test_failed_batch_is_redelivered_until_it_succeeds(client, lam, queue, secret_arn):
    name = "rmq-retry"
    deploy(client, name, "    if not event['rmqMessagesByQueue'][list(event['rmqMessagesByQueue'])[0]][0]['redelivered']:\n"
                         "        raise ValueError('first delivery fails')\n    return {}")
    asyncio.run(_publish(queue, [aio_pika.Message(b"again")]))
    create_mapping(client, name, queue, secret_arn)
    events = wait_for_events(lam, name, 2, records=lambda e: messages_of([e], queue))
    assert [m["redelivered"] for m in messages_of(events, queue)][:2] == [False, True]
    wait_for(lambda: asyncio.run(_depth(queue)) == 0, what="queue acked empty")
    assert len(messages_of(logged_events(lam, name), queue)) == 2


def test_filtered_out_messages_are_acked(client, lam, queue, secret_arn):
    name = "rmq-filter"
    deploy(client, name)
    asyncio.run(_publish(queue, [aio_pika.Message(json.dumps({"kind": k}).encode()) for k in ("a", "b", "a")]))
    create_mapping(client, name, queue, secret_arn,
                   FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"kind": ["a"]}})}]})
    wait_for(lambda: asyncio.run(_depth(queue)) == 0, what="queue acked empty")
    events = wait_for_events(lam, name, 2, records=lambda e: messages_of([e], queue))
    assert [json.loads(base64.b64decode(m["data"]))["kind"] for m in messages_of(events, queue)] == ["a", "a"]


def test_mapping_defaults_and_required_settings(client, aws, secret_arn):
    deploy(client, "rmq-api")
    created = create_mapping(client, "rmq-api", "some-queue", secret_arn, Enabled=False)
    assert created["BatchSize"] == 100 and created["LastProcessingResult"] == "No records processed"
    assert created["SourceAccessConfigurations"] == [{"Type": "BASIC_AUTH", "URI": secret_arn}]
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.create_event_source_mapping(EventSourceArn=BROKER_ARN, FunctionName="rmq-api", Queues=["q2"])
