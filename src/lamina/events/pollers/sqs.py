"""SQS (standard and FIFO) through the SQS API: long polling, batching, delete on success.

Each worker receives a batch, invokes the function, and settles the batch: on success
the messages are deleted; on failure nothing is, so SQS makes them visible again after
the visibility timeout (and its redrive policy moves them to the queue's DLQ after
maxReceiveCount). With ReportBatchItemFailures only the reported messages are kept.

Several workers poll at once (several batches in flight), starting at 5 and adding one
per full batch, at most 300 a minute, up to ScalingConfig.MaximumConcurrency; a worker
that finds the queue empty retires while more than the floor remain. FIFO order: SQS
hands out no message of a group while an earlier one of that group is in flight, so each
group has at most one batch in flight. The workers of a FIFO queue also receive one call at
a time, with short polls while a batch is in flight, so an endpoint whose concurrent
receives race on the group check (moto's do) cannot hand two workers one group either.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

import orjson

from lamina.events import event_shapes
from lamina.events.batching import BatchBudget, record_size
from lamina.events.filtering import compile_filters
from lamina.events.item_failures import WHOLE_BATCH, reported_failures
from lamina.events.mapping_model import EventSourceMapping
from lamina.events.parameters import is_fifo_queue
from lamina.events.pollers.base import PollerDeps, StopSignal, function_config

log = logging.getLogger("lamina.events.sqs")

RECEIVE_LIMIT = 10  # messages per ReceiveMessage call
FIFO_BUSY_POLL_SECONDS = 1  # a FIFO queue's long poll while some of its groups are in flight
LONG_POLL_SECONDS = 20
INITIAL_WORKERS = 5
DEFAULT_MAX_WORKERS = 1000
SCALE_UP_PER_SECOND = 5.0  # 300 a minute
DELETE_LIMIT = 10
# A throttled batch is given up this long before its messages become visible again, so
# that another worker does not get them while this one still holds them.
VISIBILITY_MARGIN_SECONDS = 2.0


class SqsPoller:
    def __init__(self, mapping: EventSourceMapping, deps: PollerDeps) -> None:
        self.mapping = mapping
        self.deps = deps
        self.region = mapping.source_arn.split(":")[3]
        self.fifo = is_fifo_queue(mapping.source_arn)
        self.filter = compile_filters(mapping.config.get("FilterCriteria"), mapping.kind.filter_source)
        self.batch_size: int = mapping.config["BatchSize"]
        self.window: float = mapping.setting("MaximumBatchingWindowInSeconds", 0)
        maximum = (mapping.config.get("ScalingConfig") or {}).get("MaximumConcurrency") or DEFAULT_MAX_WORKERS
        self.max_workers: int = maximum
        self.min_workers = min(INITIAL_WORKERS, maximum)
        self.stopping = StopSignal()
        self.queue_url = ""
        self.visibility_timeout = 30
        self._workers: set[asyncio.Task] = set()
        self._receiving: set[asyncio.Task] = set()
        self._scale_tokens = SCALE_UP_PER_SECOND
        self._scale_refilled = time.monotonic()
        self._all_done = asyncio.Event()
        self._groups_in_flight: set[str] = set()  # FIFO: message groups some worker holds a batch of
        self._fifo_receive = asyncio.Lock()  # FIFO: one ReceiveMessage at a time

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        if not await self._resolve_queue():
            return
        for _ in range(self.min_workers):
            self._spawn()
        await self._all_done.wait()

    def stop(self) -> None:
        self.stopping.event.set()
        for task in list(self._receiving):
            task.cancel()  # a worker waiting on a long poll has nothing to finish
        if not self._workers:
            self._all_done.set()

    async def _resolve_queue(self) -> bool:
        name, account = self.mapping.source_arn.split(":")[5], self.mapping.source_arn.split(":")[4]
        delay = 1.0
        while not self.stopping.set:
            try:
                self.queue_url = (await self.deps.aws.call("sqs", self.region, "get_queue_url", QueueName=name,
                                                           QueueOwnerAWSAccountId=account))["QueueUrl"]
                attributes = (await self.deps.aws.call("sqs", self.region, "get_queue_attributes",
                                                       QueueUrl=self.queue_url,
                                                       AttributeNames=["VisibilityTimeout"]))["Attributes"]
                self.visibility_timeout = int(attributes.get("VisibilityTimeout", 30))
                return True
            except Exception as error:
                log.warning("mapping %s: cannot reach queue %s: %s", self.mapping.uuid, self.mapping.source_arn, error)
                self.deps.dispatcher.report(self.mapping, f"PROBLEM: Cannot access queue: {error}")
            if await self.stopping.sleep(delay):
                break
            delay = min(30.0, delay * 2)
        return False

    def _spawn(self) -> None:
        task = asyncio.create_task(self._work())
        self._workers.add(task)
        task.add_done_callback(self._worker_done)

    def _worker_done(self, task: asyncio.Task) -> None:
        self._workers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("mapping %s: SQS worker failed", self.mapping.uuid, exc_info=task.exception())
            if not self.stopping.set:
                self._spawn()
                return
        if not self._workers:
            self._all_done.set()

    def _may_scale_up(self) -> bool:
        now = time.monotonic()
        self._scale_tokens = min(SCALE_UP_PER_SECOND, self._scale_tokens + (now - self._scale_refilled)
                                 * SCALE_UP_PER_SECOND)
        self._scale_refilled = now
        if len(self._workers) >= self.max_workers or self._scale_tokens < 1:
            return False
        self._scale_tokens -= 1
        return True

    # ------------------------------------------------------------ one worker

    async def _work(self) -> None:
        while not self.stopping.set:
            receiving = asyncio.current_task()
            assert receiving is not None
            self._receiving.add(receiving)
            try:
                messages, received_at = await self._collect_batch()
            except asyncio.CancelledError:
                if self.stopping.set:
                    return
                raise
            except Exception as error:
                log.warning("mapping %s: receiving from %s failed: %s", self.mapping.uuid, self.queue_url, error)
                self.deps.dispatcher.report(self.mapping, f"PROBLEM: Cannot receive from queue: {error}")
                await self.stopping.sleep(1.0)
                continue
            finally:
                self._receiving.discard(receiving)
            if not messages:
                if len(self._workers) > self.min_workers:
                    return
                continue
            if len(messages) >= min(self.batch_size, RECEIVE_LIMIT) and self._may_scale_up():
                self._spawn()
            await self._process(messages, received_at)

    async def _collect_batch(self) -> tuple[list[dict[str, Any]], float]:
        """Receive until the batch is full, the batching window (opened by the first
        message) closes, or the payload limit is near. With no window, one receive (a long
        poll) makes the batch. An empty long poll returns an empty batch. Returns the
        records in Lambda's shape and when the batch opened."""
        budget = BatchBudget(self.batch_size)
        messages: list[dict[str, Any]] = []
        started = time.time()
        deadline: float | None = None
        while not budget.full:
            wait = LONG_POLL_SECONDS
            if deadline is not None:
                remaining = deadline - time.time()
                if remaining <= 0:
                    break
                wait = min(LONG_POLL_SECONDS, math.ceil(remaining))
            try:
                received = await self._receive(min(RECEIVE_LIMIT, budget.max_records - budget.records), wait)
            except asyncio.CancelledError:
                self._release(messages)  # stopped while the window was open: they go straight back
                raise
            if received and deadline is None:
                started = time.time()
                deadline = started + self.window
            for message in received:
                record = event_shapes.sqs_record(message, self.mapping.source_arn, self.region)
                size = record_size(record)
                if not budget.fits(size):
                    self._release([record])  # no room left in this batch: SQS hands it out again
                    continue
                budget.take(size)
                messages.append(record)
            if not messages or not self.window:
                break
        return messages, started

    async def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        if not self.fifo:
            return await self._receive_call(count, wait)
        async with self._fifo_receive:
            # While a batch is in flight its groups come free when it settles: poll again soon.
            return await self._receive_call(count, min(wait, FIFO_BUSY_POLL_SECONDS) if self._groups_in_flight else wait)

    async def _receive_call(self, count: int, wait: int) -> list[dict[str, Any]]:
        client = self.deps.aws.client("sqs", self.region)
        params = {"QueueUrl": self.queue_url, "MaxNumberOfMessages": count, "WaitTimeSeconds": wait,
                  "AttributeNames": ["All"], "MessageAttributeNames": ["All"]}
        future = self.deps.aws.submit(lambda: client.receive_message(**params).get("Messages", []))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Stopped during a long poll: whatever it still returns goes straight back.
            future.add_done_callback(lambda f: None if f.cancelled() or f.exception() else self._release(
                [{"receiptHandle": m["ReceiptHandle"]} for m in f.result()]))
            raise

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Make messages (records, or anything with a receiptHandle) visible again at once:
        they were taken but will not be processed."""
        if not messages:
            return
        client = self.deps.aws.client("sqs", self.region)

        def _change() -> None:
            for start in range(0, len(messages), DELETE_LIMIT):
                entries = [{"Id": str(i), "ReceiptHandle": m["receiptHandle"], "VisibilityTimeout": 0}
                           for i, m in enumerate(messages[start:start + DELETE_LIMIT])]
                try:
                    client.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
                except Exception as error:  # they come back after the visibility timeout anyway
                    log.debug("releasing messages failed: %s", error)

        try:
            self.deps.aws.submit(_change)
        except RuntimeError:  # shutting down: they come back after the visibility timeout
            pass

    # ------------------------------------------------------------ one batch

    async def _process(self, records: list[dict[str, Any]], received_at: float) -> None:
        if not self.fifo:
            await self._process_batch(records, received_at)
            return
        # SQS hands out no group that has messages in flight; should an endpoint do it all
        # the same, those messages go back rather than overtake the batch in flight.
        groups = {r["attributes"].get("MessageGroupId", "") for r in records}
        taken = groups & self._groups_in_flight
        if taken:
            self._release([r for r in records if r["attributes"].get("MessageGroupId", "") in taken])
            records = [r for r in records if r["attributes"].get("MessageGroupId", "") not in taken]
            groups -= taken
        if not records:
            return
        self._groups_in_flight |= groups
        try:
            await self._process_batch(records, received_at)
        finally:
            self._groups_in_flight -= groups

    async def _process_batch(self, records: list[dict[str, Any]], received_at: float) -> None:
        kept, dropped = self.filter.split(records)
        if dropped:
            await self._delete(dropped)  # filtered-out messages are deleted, as Lambda does
        if not kept:
            return
        payload = orjson.dumps({"Records": kept})
        visibility = self._effective_visibility()
        if visibility > self.visibility_timeout:
            await self._extend_visibility(kept, visibility)
        give_up_at = received_at + visibility - VISIBILITY_MARGIN_SECONDS
        outcome = await self.deps.dispatcher.invoke_batch(self.mapping, payload, give_up_at)
        if outcome is None or outcome.failed:
            return  # the messages reappear after the visibility timeout
        if not self.mapping.report_batch_item_failures:
            await self._delete(kept)
            return
        failed = reported_failures(outcome.response(), {r["messageId"] for r in kept})
        if failed is WHOLE_BATCH:
            self.deps.dispatcher.report(self.mapping, "PROBLEM: Function call failed")
            return
        await self._delete(self._settled(kept, set(failed)))

    def _settled(self, records: list[dict[str, Any]], failed: set[str]) -> list[dict[str, Any]]:
        """The records to delete. On a FIFO queue nothing after a failed message of the same
        group is deleted either, so the group's order holds even if the function reported
        only the first failure."""
        if not self.fifo:
            return [r for r in records if r["messageId"] not in failed]
        blocked: set[str] = set()
        settled = []
        for record in records:
            group = record["attributes"].get("MessageGroupId", "")
            if record["messageId"] in failed or group in blocked:
                blocked.add(group)
                continue
            settled.append(record)
        return settled

    def _effective_visibility(self) -> float:
        """Lambda extends the visibility timeout when the window and the function's timeout
        would outlast it."""
        config = function_config(self.deps, self.mapping) or {}
        needed = self.window + config.get("Timeout", 3)
        return self.visibility_timeout if needed <= self.visibility_timeout else needed + 30

    async def _extend_visibility(self, records: list[dict[str, Any]], seconds: float) -> None:
        for start in range(0, len(records), DELETE_LIMIT):
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": int(seconds)}
                       for i, r in enumerate(records[start:start + DELETE_LIMIT])]
            try:
                await self.deps.aws.call("sqs", self.region, "change_message_visibility_batch",
                                         QueueUrl=self.queue_url, Entries=entries)
            except Exception as error:
                log.warning("mapping %s: extending the visibility timeout failed: %s", self.mapping.uuid, error)

    async def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), DELETE_LIMIT):
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                       for i, r in enumerate(records[start:start + DELETE_LIMIT])]
            try:
                result = await self.deps.aws.call("sqs", self.region, "delete_message_batch", QueueUrl=self.queue_url,
                                                  Entries=entries)
            except Exception as error:
                log.warning("mapping %s: deleting messages failed (they will be delivered again): %s",
                            self.mapping.uuid, error)
                continue
            if result.get("Failed"):
                log.warning("mapping %s: SQS did not delete %d messages: %s", self.mapping.uuid,
                            len(result["Failed"]), result["Failed"][0].get("Message"))
