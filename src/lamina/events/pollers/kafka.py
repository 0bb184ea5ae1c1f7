"""Kafka mappings (self-managed Apache Kafka, or Amazon MSK) through aiokafka.

The poller is a member of the mapping's consumer group (ConsumerGroupId, by default the
mapping's UUID). A batch holds up to BatchSize records from the topic's partitions and
closes when full, near 6 MB, or MaximumBatchingWindowInSeconds (0.5 s by default) after
its first record. Offsets are committed only after the function handled the batch, so
a crash re-delivers, never skips. A failed batch is retried as a whole until it
succeeds, or, with MaximumRetryAttempts / MaximumRecordAgeInSeconds set, until those
run out, when it goes to the on-failure destination and the partitions move on.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections import defaultdict
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from lamina.events import event_shapes
from lamina.events.batching import BatchBudget, record_size
from lamina.events.failure_destinations import DiscardedBatch
from lamina.events.filtering import compile_filters
from lamina.events.mapping_model import EventSourceMapping
from lamina.events.parameters import DEFAULT_WINDOW_SECONDS
from lamina.events.pollers.base import PollerDeps, StopSignal, consume_until_stopped

log = logging.getLogger("lamina.events.kafka")

MAX_RETRY_DELAY_SECONDS = 30.0
_SASL = {"BASIC_AUTH": "PLAIN", "SASL_SCRAM_256_AUTH": "SCRAM-SHA-256", "SASL_SCRAM_512_AUTH": "SCRAM-SHA-512"}


class _StartingPosition(ConsumerRebalanceListener):
    """Partitions the group has no committed offset for start at the StartingPosition
    (AT_TIMESTAMP: the first record at or after the timestamp), and that position is
    committed at once: a restart before the first batch resumes there instead of taking
    a new LATEST and skipping what arrived meanwhile."""

    def __init__(self, poller: KafkaPoller) -> None:
        self.poller = poller

    async def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        consumer = self.poller.consumer
        if consumer is None or self.poller.offset_reset == "earliest" and self.poller.start_timestamp_ms is None:
            return
        fresh = [tp for tp in assigned if await consumer.committed(tp) is None]
        if not fresh:
            return
        if self.poller.start_timestamp_ms is not None:
            offsets = await consumer.offsets_for_times({tp: self.poller.start_timestamp_ms for tp in fresh})
            for tp in fresh:
                found = offsets.get(tp)
                if found is not None:
                    consumer.seek(tp, found.offset)
                else:
                    await consumer.seek_to_end(tp)
        await consumer.commit({tp: await consumer.position(tp) for tp in fresh})


class KafkaPoller:
    def __init__(self, mapping: EventSourceMapping, deps: PollerDeps) -> None:
        self.mapping = mapping
        self.deps = deps
        config = mapping.config
        self.topic: str = config["Topics"][0]
        self.cluster_arn: str | None = config.get("EventSourceArn")
        servers = ((config.get("SelfManagedEventSource") or {}).get("Endpoints") or {}).get("KAFKA_BOOTSTRAP_SERVERS")
        self.bootstrap = ",".join(servers or [])
        group_config = config.get("SelfManagedKafkaEventSourceConfig") or config.get(
            "AmazonManagedKafkaEventSourceConfig") or {}
        self.group_id: str = group_config.get("ConsumerGroupId") or mapping.uuid
        self.batch_size: int = config["BatchSize"]
        self.window: float = mapping.setting("MaximumBatchingWindowInSeconds", DEFAULT_WINDOW_SECONDS[mapping.kind])
        position = config.get("StartingPosition", "LATEST")
        self.offset_reset = "earliest" if position == "TRIM_HORIZON" else "latest"
        timestamp = config.get("StartingPositionTimestamp")
        self.start_timestamp_ms = int(float(timestamp) * 1000) if position == "AT_TIMESTAMP" and timestamp else None
        self.filter = compile_filters(config.get("FilterCriteria"), mapping.kind.filter_source)
        self.max_retries: int = mapping.setting("MaximumRetryAttempts", -1)
        self.max_age: int = mapping.setting("MaximumRecordAgeInSeconds", -1)
        self.stopping = StopSignal()
        self.consumer: AIOKafkaConsumer | None = None

    def stop(self) -> None:
        self.stopping.event.set()

    async def run(self) -> None:
        await consume_until_stopped(self._consume, self.stopping, self.deps, self.mapping, f"Kafka topic {self.topic}")

    async def _consume(self) -> None:
        if self.cluster_arn and not self.bootstrap:
            self.bootstrap = await self._msk_bootstrap()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group_id, enable_auto_commit=False,
            auto_offset_reset=self.offset_reset, max_poll_records=self.batch_size,
            client_id=f"lamina-esm-{self.mapping.uuid}", **await self._security())
        self.consumer = consumer
        consumer.subscribe([self.topic], listener=_StartingPosition(self))
        await consumer.start()
        try:
            while not self.stopping.set:
                batch = await self._collect(consumer)
                if batch:
                    await self._process(consumer, batch)
        finally:
            self.consumer = None
            await consumer.stop()

    async def _collect(self, consumer: AIOKafkaConsumer) -> list[tuple[ConsumerRecord, dict[str, Any]]]:
        budget = BatchBudget(self.batch_size)
        batch: list[tuple[ConsumerRecord, dict[str, Any]]] = []
        deadline: float | None = None
        while not budget.full and not self.stopping.set:
            wait = 1.0 if deadline is None else deadline - time.monotonic()
            if wait <= 0 and batch:
                break
            fetched = await consumer.getmany(timeout_ms=int(max(0.0, wait) * 1000),
                                             max_records=budget.max_records - budget.records)
            overflow = False
            for tp, records in fetched.items():
                for message in records:
                    record = _record(message)
                    size = record_size(record)
                    if overflow or (batch and not budget.fits(size)):
                        overflow = True
                        consumer.seek(tp, message.offset)  # fetched again for the next batch
                        break
                    budget.take(size)
                    batch.append((message, record))
            if overflow:
                break
            if batch and deadline is None:
                deadline = time.monotonic() + self.window
            if not batch and deadline is None and not fetched:
                return batch
        return batch

    async def _process(self, consumer: AIOKafkaConsumer, batch: list[tuple[ConsumerRecord, dict[str, Any]]]) -> None:
        kept = [(m, r) for m, r in batch if self.filter.matches(r)]
        if kept:
            by_partition: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for message, record in kept:
                by_partition[f"{message.topic}-{message.partition}"].append(record)
            event = orjson.dumps(event_shapes.kafka_event(bootstrap_servers=self.bootstrap, records=by_partition,
                                                          cluster_arn=self.cluster_arn))
            if not await self._deliver(kept, event):
                return
        # Handled (or filtered out, or discarded): the group moves past the whole batch.
        offsets: dict[TopicPartition, int] = {}
        for message, _ in batch:
            tp = TopicPartition(message.topic, message.partition)
            offsets[tp] = max(offsets.get(tp, 0), message.offset + 1)
        await consumer.commit(offsets)

    async def _deliver(self, kept: list[tuple[ConsumerRecord, dict[str, Any]]], event: bytes) -> bool:
        """Invoke until handled or given up on; False if stopped first."""
        attempts = 0
        oldest = min(m.timestamp for m, _ in kept) / 1000
        while not self.stopping.set:
            if self.max_age != -1 and time.time() - oldest > self.max_age:
                await self._discard(kept, event, "RecordAgeExceeded", attempts, None)
                return True
            outcome = await self.deps.dispatcher.invoke_batch(self.mapping, event)
            if outcome is not None and not outcome.failed:
                return True
            if outcome is not None:
                attempts += 1
                if self.max_retries != -1 and attempts > self.max_retries:
                    await self._discard(kept, event, "RetryAttemptsExhausted", attempts, outcome)
                    return True
            await self.stopping.sleep(min(MAX_RETRY_DELAY_SECONDS, 0.5 * 2 ** attempts))
        return False

    async def _discard(self, kept: list[tuple[ConsumerRecord, dict[str, Any]]], event: bytes, condition: str,
                       attempts: int, outcome: Any) -> None:
        info: dict[str, Any] = {"batchSize": len(kept), "bootstrapServers": self.bootstrap, "payloadSize": len(event),
                                "recordsInfo": {}}
        if self.cluster_arn:
            info["eventSourceArn"] = self.cluster_arn
        for message, _ in kept:
            key = f"{message.topic}-{message.partition}"
            entry = info["recordsInfo"].setdefault(key, {
                "firstRecordOffset": str(message.offset), "firstRecordTimestamp": _iso(message.timestamp)})
            entry["lastRecordOffset"] = str(message.offset)
            entry["lastRecordTimestamp"] = _iso(message.timestamp)
        recorded = self.deps.failures.record(self.mapping, DiscardedBatch(condition, attempts, outcome, info, event))
        if recorded is not None:
            write, delivery = recorded
            await self.deps.checkpoints.commits.submit(write)
            self.deps.failures.queued(delivery)
        log.warning("mapping %s: discarded %d Kafka records (%s)", self.mapping.uuid, len(kept), condition)

    async def _msk_bootstrap(self) -> str:
        region = (self.cluster_arn or "").split(":")[3]
        brokers = await self.deps.aws.call("kafka", region, "get_bootstrap_brokers", ClusterArn=self.cluster_arn)
        for key in ("BootstrapBrokerString", "BootstrapBrokerStringTls", "BootstrapBrokerStringSaslScram",
                    "BootstrapBrokerStringSaslIam"):
            if brokers.get(key):
                return brokers[key]
        raise RuntimeError(f"MSK cluster {self.cluster_arn} has no bootstrap brokers")

    async def _security(self) -> dict[str, Any]:
        """SASL from the mapping's secret (BASIC_AUTH = SASL/PLAIN, or SCRAM), over TLS as
        Lambda connects; no authentication configured means plaintext."""
        for access_type, mechanism in _SASL.items():
            secret_arn = self.mapping.source_access(access_type)
            if not secret_arn:
                continue
            region = secret_arn.split(":")[3]
            secret = await self.deps.aws.call("secretsmanager", region, "get_secret_value", SecretId=secret_arn)
            document = json.loads(secret["SecretString"])
            return {"security_protocol": "SASL_SSL", "sasl_mechanism": mechanism,
                    "sasl_plain_username": document["username"], "sasl_plain_password": document["password"],
                    "ssl_context": ssl.create_default_context()}
        return {}


def _record(message: ConsumerRecord) -> dict[str, Any]:
    return event_shapes.kafka_record(
        topic=message.topic, partition=message.partition, offset=message.offset, timestamp_ms=message.timestamp,
        timestamp_type="LOG_APPEND_TIME" if message.timestamp_type == 1 else "CREATE_TIME",
        key=message.key, value=message.value, headers=list(message.headers or ()))


def _iso(timestamp_ms: int) -> str:
    return event_shapes.iso_time(timestamp_ms / 1000)

