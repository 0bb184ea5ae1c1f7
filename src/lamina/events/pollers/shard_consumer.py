"""Reading one shard: an iterator from the checkpoint (or the starting position), records
spread over ParallelizationFactor lanes by key (one lane keeps the whole shard in
order; several keep order per key), one batch at a time per lane, and the checkpoint
moved past every record once it and all records before it are settled."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import deque
from typing import Any

import orjson

from lamina.backoff import exponential_delay
from lamina.events import event_shapes
from lamina.events.batching import BatchBudget
from lamina.events.checkpoints import Checkpoint
from lamina.events.failure_destinations import DiscardedBatch, stream_batch_info
from lamina.events.filtering import compile_filters
from lamina.events.mapping_model import EventSourceMapping
from lamina.events.pollers.base import PollerDeps, StopSignal, function_config
from lamina.events.pollers.stream_batches import StreamBatchRunner
from lamina.events.pollers.stream_source import StreamRecord, StreamSource
from lamina.events.pollers.tumbling import TumblingWindow

log = logging.getLogger("lamina.events.streams")

MAX_BUFFERED_RECORDS = 10_000
ERROR_BACKOFF_SECONDS = 2.0  # after the first failure to read; doubled on each further one
MAX_ERROR_BACKOFF_SECONDS = 300.0


class _Entry:
    __slots__ = ("record", "settled")

    def __init__(self, record: StreamRecord, settled: bool) -> None:
        self.record = record
        self.settled = settled


class ShardConsumer:
    def __init__(self, mapping: EventSourceMapping, deps: PollerDeps, source: StreamSource, shard_id: str,
                 checkpoint: Checkpoint, start_position: str, stopping: StopSignal) -> None:
        self.mapping = mapping
        self.deps = deps
        self.source = source
        self.shard_id = shard_id
        self.checkpoint = checkpoint
        self.start_position = start_position
        self.stopping = stopping
        self.filter = compile_filters(mapping.config.get("FilterCriteria"), mapping.kind.filter_source)
        self.batch_size: int = mapping.config["BatchSize"]
        self.window: float = mapping.setting("MaximumBatchingWindowInSeconds", 0)
        self.lane_count: int = mapping.setting("ParallelizationFactor", 1)
        tumbling = mapping.setting("TumblingWindowInSeconds", 0)
        saved = checkpoint.window or {}
        self.windows = [TumblingWindow(tumbling, shard_id, mapping.source_arn, saved.get(str(i)))
                        if tumbling else None for i in range(self.lane_count)]
        self.lanes: list[asyncio.Queue[StreamRecord]] = [asyncio.Queue() for _ in range(self.lane_count)]
        self.unsettled: deque[_Entry] = deque()
        self.entries: dict[str, _Entry] = {}
        self.progress = asyncio.Event()
        self.runner = StreamBatchRunner(mapping, deps, shard_id, self._settle, self._batch_info, stopping)
        self.last_read: str | None = checkpoint.sequence
        self.closing = False
        self.idle_lanes: set[int] = set()

    # ------------------------------------------------------------ reading

    async def run(self) -> bool:
        """Consume the shard; True once a closed shard is read to its end and settled."""
        lanes = [asyncio.create_task(self._lane(i)) for i in range(self.lane_count)]
        try:
            return await self._read()
        finally:
            # Lanes waiting for records stop now; a lane in the middle of a batch settles it first.
            self.closing = True
            while not all(lane.done() for lane in lanes):
                for index, lane in enumerate(lanes):
                    if index in self.idle_lanes:
                        lane.cancel()
                await asyncio.wait(lanes, timeout=0.5)

    async def _read(self) -> bool:
        iterator: str | None = None
        # Resuming from a time: AT_TIMESTAMP is only as precise as a second (and DynamoDB
        # Streams has none), so records from before that time are skipped here.
        skip_before = self.checkpoint.since if self.start_position == "SINCE" else None
        failures = 0
        while not self.stopping.set:
            try:
                if iterator is None:
                    iterator = await self._iterator()
                if len(self.unsettled) >= MAX_BUFFERED_RECORDS:
                    self.progress.clear()
                    await self._wait_progress(1.0)
                    continue
                role = (function_config(self.deps, self.mapping) or {}).get("Role", "")
                result = await self.source.read(self.shard_id, iterator, max(self.batch_size, 100), role)
            except Exception as error:
                failures += 1
                log.log(logging.WARNING if failures == 1 else logging.DEBUG,
                        "mapping %s shard %s (retrying with back-off): %s", self.mapping.uuid, self.shard_id, error)
                self.deps.dispatcher.report(self.mapping, f"PROBLEM: Cannot read shard {self.shard_id}: {error}")
                iterator = None
                if await self.stopping.sleep(exponential_delay(failures, ERROR_BACKOFF_SECONDS,
                                                               MAX_ERROR_BACKOFF_SECONDS)):
                    break
                continue
            failures = 0
            for record in result.records:
                self.last_read = record.sequence
                keep = (skip_before is None or record.arrival >= skip_before) and self.filter.matches(record.record)
                entry = _Entry(record, settled=not keep)
                self.unsettled.append(entry)
                if keep:
                    self.entries[record.sequence] = entry
                    self.lanes[self._lane_of(record)].put_nowait(record)
            if self.unsettled and self.unsettled[0].settled:
                await self._settle([], None)  # filtered out: the checkpoint moves past them
            iterator = result.next_iterator
            if iterator is None:
                return await self._finish()
            if not result.records and await self.stopping.sleep(self.source.idle_poll_seconds):
                break
        return False

    async def _iterator(self) -> str:
        if self.last_read is not None:
            return await self.source.iterator(self.shard_id, "AFTER_SEQUENCE_NUMBER", sequence=self.last_read)
        if self.start_position == "SINCE":
            if self.source.supports_at_timestamp:
                return await self.source.iterator(self.shard_id, "AT_TIMESTAMP", timestamp=self.checkpoint.since)
            return await self.source.iterator(self.shard_id, "TRIM_HORIZON")
        return await self.source.iterator(self.shard_id, self.start_position)

    async def _finish(self) -> bool:
        """A closed shard: once everything read is settled, it is finished for good."""
        while self.unsettled or any(not lane.empty() for lane in self.lanes):
            if self.stopping.set:
                return False
            self.progress.clear()
            await self._wait_progress(1.0)
        for window in self.windows:
            if window is not None and window.start is not None:
                await self._final_invoke(window)
        self.checkpoint.finished = True
        await self.deps.checkpoints.save(self.mapping.uuid, self.checkpoint)
        return True

    async def _wait_progress(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.progress.wait(), seconds)
        except TimeoutError:
            pass

    def _lane_of(self, record: StreamRecord) -> int:
        if self.lane_count == 1:
            return 0
        return zlib.crc32(record.key.encode()) % self.lane_count

    # ------------------------------------------------------------ one lane

    async def _lane(self, index: int) -> None:
        queue = self.lanes[index]
        window = self.windows[index]
        held: StreamRecord | None = None  # taken, and first of the next batch
        while not (self.stopping.set or self.closing):
            if held is None:
                timeout = None if window is None or window.end is None else max(0.0, window.end - time.time())
                self.idle_lanes.add(index)
                try:
                    held = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:  # the tumbling window is over
                    assert window is not None
                    if not await self._final_invoke(window):
                        return
                    continue
                finally:
                    self.idle_lanes.discard(index)
            batch, held = await self._gather(queue, held, window)
            if window is None:
                done = await self.runner.run(batch, lambda rs: event_shapes.streams_event([r.record for r in rs]))
            else:
                start = window.window_of(batch[0])
                if window.start is not None and window.start != start and not await self._final_invoke(window):
                    return
                if window.start is None:
                    window.open(start)
                done = await self.runner.run(batch, lambda rs: window.event(rs, final=False), window.accept)
            if not done:
                return

    async def _gather(self, queue: asyncio.Queue[StreamRecord], first: StreamRecord,
                      window: TumblingWindow | None) -> tuple[list[StreamRecord], StreamRecord | None]:
        """A batch starting with `first`: up to BatchSize records, the 6 MB cap, the
        batching window, and (with tumbling windows) one window only."""
        budget = BatchBudget(self.batch_size)
        budget.take(first.size)
        batch = [first]
        deadline = time.time() + self.window
        while not budget.full:
            try:
                record = queue.get_nowait() if self.window == 0 else await asyncio.wait_for(
                    queue.get(), max(0.0, deadline - time.time()))
            except (asyncio.QueueEmpty, TimeoutError):
                break
            if not budget.fits(record.size) or (window is not None and window.window_of(record)
                                                 != window.window_of(first)):
                return batch, record
            budget.take(record.size)
            batch.append(record)
        return batch, None

    async def _final_invoke(self, window: TumblingWindow) -> bool:
        """End a tumbling window: a last invocation with isFinalInvokeForWindow, then an
        empty state. Retried like a batch; False if stopped first."""
        attempts = 0
        max_retries = self.mapping.setting("MaximumRetryAttempts", -1)
        while True:
            if self.stopping.set:
                return False
            event = orjson.dumps(window.event([], final=True))
            outcome = await self.deps.dispatcher.invoke_batch(self.mapping, event)
            if outcome is not None and not outcome.failed and window.accept(outcome.response()):
                break
            attempts += 1
            if max_retries != -1 and attempts > max_retries:
                break
            if await self.stopping.sleep(min(5.0, 0.2 * 2 ** attempts)):
                return False
        window.close()
        await self._settle([], None)
        return True

    # ------------------------------------------------------------ settling

    async def _settle(self, records: list[StreamRecord], discarded: DiscardedBatch | None) -> None:
        for record in records:
            entry = self.entries.pop(record.sequence, None)
            if entry is not None:
                entry.settled = True
        while self.unsettled and self.unsettled[0].settled:
            self.checkpoint.sequence = self.unsettled.popleft().record.sequence
        windows = {str(i): w.saved() for i, w in enumerate(self.windows) if w is not None and w.saved()}
        self.checkpoint.window = windows or None
        also: list[Any] = []
        delivery = None
        if discarded is not None:
            recorded = self.deps.failures.record(self.mapping, discarded)
            if recorded is not None:
                write, delivery = recorded
                also.append(write)
            log.warning("mapping %s shard %s: discarded %d records (%s)", self.mapping.uuid, self.shard_id,
                        len(records), discarded.condition)
        await self.deps.checkpoints.save(self.mapping.uuid, self.checkpoint, also)
        if delivery is not None:
            self.deps.failures.queued(delivery)
        self.progress.set()

    def _batch_info(self, records: list[StreamRecord]) -> dict[str, Any]:
        return stream_batch_info(self.mapping, self.shard_id, [{"sequence": r.sequence} for r in records],
                                 [r.arrival for r in records])
