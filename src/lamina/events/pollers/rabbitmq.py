"""Amazon MQ for RabbitMQ mappings, through AMQP 0-9-1 (aio-pika).

The poller consumes the mapping's queue with a prefetch of BatchSize; a batch closes
when it is full, near 6 MB, or MaximumBatchingWindowInSeconds (0.5 s by default) after
its first message. Messages the filters drop are acked at once. A batch the function
handles is acked; a failed batch is handed back to the broker (nack with requeue) after
a back-off, so it is retried, marked `redelivered`, until it succeeds or the broker's
own policies (message TTL, delivery limits, dead-letter exchanges) take it away.
Unacked messages go back to the queue by themselves if lamina stops or the connection
drops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage

from lamina.backoff import exponential_delay
from lamina.events import event_shapes
from lamina.events.batching import BatchBudget, record_size
from lamina.events.filtering import compile_filters
from lamina.events.mapping_model import EventSourceMapping
from lamina.events.parameters import DEFAULT_WINDOW_SECONDS
from lamina.events.pollers.base import PollerDeps, StopSignal, consume_until_stopped

log = logging.getLogger("lamina.events.rabbitmq")

MAX_PREFETCH = 65_535
MAX_FAILURE_BACKOFF_SECONDS = 30.0


class RabbitMqPoller:
    def __init__(self, mapping: EventSourceMapping, deps: PollerDeps) -> None:
        self.mapping = mapping
        self.deps = deps
        self.queue_name: str = mapping.config["Queues"][0]
        self.virtual_host = mapping.source_access("VIRTUAL_HOST") or "/"
        self.secret_arn = mapping.source_access("BASIC_AUTH") or ""
        self.batch_size: int = mapping.config["BatchSize"]
        self.window: float = mapping.setting("MaximumBatchingWindowInSeconds", DEFAULT_WINDOW_SECONDS[mapping.kind])
        self.filter = compile_filters(mapping.config.get("FilterCriteria"), mapping.kind.filter_source)
        self.key = event_shapes.rmq_queue_key(self.queue_name, self.virtual_host)
        self.stopping = StopSignal()
        self.failures = 0

    def stop(self) -> None:
        self.stopping.event.set()

    async def run(self) -> None:
        await consume_until_stopped(self._consume, self.stopping, self.deps, self.mapping, f"RabbitMQ queue {self.key}")

    async def _consume(self) -> None:
        url = await self.deps.brokers.amqp_url(self.mapping.source_arn, self.secret_arn, self.virtual_host)
        connection = await aio_pika.connect(url, client_properties={"connection_name": f"lamina-esm-{self.mapping.uuid}"})
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=min(self.batch_size, MAX_PREFETCH))
            queue = await channel.get_queue(self.queue_name, ensure=True)
            incoming: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            await queue.consume(incoming.put)
            closed = asyncio.ensure_future(self._closed(connection))
            try:
                while not self.stopping.set and not closed.done():
                    batch = await self._collect(incoming, closed)
                    if batch:
                        await self._process(batch)
            finally:
                closed.cancel()

    @staticmethod
    async def _closed(connection: aio_pika.abc.AbstractConnection) -> None:
        while not connection.is_closed:
            await asyncio.sleep(0.5)

    async def _collect(self, incoming: asyncio.Queue[AbstractIncomingMessage],
                       closed: asyncio.Future) -> list[tuple[AbstractIncomingMessage, dict[str, Any]]]:
        """A batch: it opens with its first message and closes when full, near the payload
        limit, or when the batching window ends."""
        batch: list[tuple[AbstractIncomingMessage, dict[str, Any]]] = []
        budget = BatchBudget(self.batch_size)
        deadline: float | None = None
        while not budget.full:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            getter = asyncio.ensure_future(incoming.get())
            stop = asyncio.ensure_future(self.stopping.event.wait())
            done, _ = await asyncio.wait([getter, stop, closed], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if getter not in done:
                getter.cancel()
                break
            message = getter.result()
            record = _record(message)
            size = record_size(record)
            if batch and not budget.fits(size):
                incoming.put_nowait(message)  # it opens the next batch
                break
            budget.take(size)
            batch.append((message, record))
            if deadline is None:
                deadline = time.monotonic() + self.window
        return batch

    async def _process(self, batch: list[tuple[AbstractIncomingMessage, dict[str, Any]]]) -> None:
        kept = []
        for message, record in batch:
            if self.filter.matches(record):
                kept.append((message, record))
            else:
                await message.ack()  # filtered out: acked at filter time, as Lambda does
        if not kept:
            return
        event = orjson.dumps(event_shapes.rmq_event(self.mapping.source_arn, {self.key: [r for _, r in kept]}))
        outcome = await self.deps.dispatcher.invoke_batch(self.mapping, event)
        if outcome is not None and not outcome.failed:
            self.failures = 0
            for message, _ in kept:
                await message.ack()
            return
        # Failed (or stopped while throttled): back to the broker, which delivers it again.
        self.failures += 1
        await self.stopping.sleep(exponential_delay(self.failures, 0.5, MAX_FAILURE_BACKOFF_SECONDS))
        for message, _ in kept:
            await message.nack(requeue=True)


def _record(message: AbstractIncomingMessage) -> dict[str, Any]:
    properties = message.properties
    delivery_mode = properties.delivery_mode
    return event_shapes.rmq_message(
        properties={
            "contentType": properties.content_type,
            "contentEncoding": properties.content_encoding,
            "deliveryMode": int(delivery_mode) if delivery_mode is not None else None,
            "priority": properties.priority,
            "correlationId": properties.correlation_id,
            "replyTo": properties.reply_to,
            "expiration": properties.expiration,
            "messageId": properties.message_id,
            "timestamp": properties.timestamp,
            "type": properties.message_type,
            "userId": properties.user_id,
            "appId": properties.app_id,
            "clusterId": properties.cluster_id or None,
        },
        headers=properties.headers, redelivered=bool(message.redelivered), body=message.body)
