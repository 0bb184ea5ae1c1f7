"""One stream batch, from first invoke until every record in it is settled (spec §4.4).

- success: settled;
- ReportBatchItemFailures: the records before the lowest reported sequence number are
  settled, the rest is retried (an invalid report fails the whole batch);
- function error: with BisectBatchOnFunctionError the failing batch is split in half
  and each half retried (splits are not retries); otherwise retried until
  MaximumRetryAttempts, then discarded to the on-failure destination;
- records older than MaximumRecordAgeInSeconds are discarded (RecordAgeExceeded);
- throttles and system errors are retried without counting, until the records expire.

The shard does not move on while a batch is unsettled: that is what keeps order.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from lamina.events.batching import PAYLOAD_LIMIT
from lamina.events.dispatch import Outcome
from lamina.events.failure_destinations import DiscardedBatch
from lamina.events.item_failures import WHOLE_BATCH, reported_failures
from lamina.events.mapping_model import EventSourceMapping
from lamina.events.pollers.base import PollerDeps, StopSignal
from lamina.events.pollers.stream_source import StreamRecord

RETRY_DELAY_SECONDS = 0.2
MAX_RETRY_DELAY_SECONDS = 5.0

# Builds the event for some records (tumbling windows add their window and state).
EventBuilder = Callable[[list[StreamRecord]], dict[str, Any]]
# Settles records: (records, discarded batch or None); returns once recorded.
Settle = Callable[[list[StreamRecord], DiscardedBatch | None], Awaitable[None]]
# Tumbling windows: told each successful response; False means it is not acceptable.
ResponseCheck = Callable[[Any], bool]


@dataclass
class _Part:
    records: list[StreamRecord]
    attempts: int = 0  # function errors counted against MaximumRetryAttempts
    invokes: int = 0


class StreamBatchRunner:
    def __init__(self, mapping: EventSourceMapping, deps: PollerDeps, shard_id: str, settle: Settle,
                 batch_info: Callable[[list[StreamRecord]], dict[str, Any]], stopping: StopSignal) -> None:
        self.mapping = mapping
        self.deps = deps
        self.shard_id = shard_id
        self.settle = settle
        self.batch_info = batch_info
        self.stopping = stopping
        self.max_retries: int = mapping.setting("MaximumRetryAttempts", -1)
        self.max_age: int = mapping.setting("MaximumRecordAgeInSeconds", -1)
        self.bisect: bool = mapping.setting("BisectBatchOnFunctionError", False)

    async def run(self, records: list[StreamRecord], build: EventBuilder,
                  accept: ResponseCheck | None = None) -> bool:
        """Process `records` to the end; False if stopped before (the rest is read again later)."""
        parts = deque([_Part(records)])
        while parts:
            if self.stopping.set:
                return False
            part = parts[0]
            if not await self._drop_expired(part):
                parts.popleft()
                continue
            event = orjson.dumps(build(part.records))
            if len(event) > PAYLOAD_LIMIT:
                if len(part.records) == 1:
                    await self._discard(part, "MaximumPayloadSizeExceeded", None, event)
                    parts.popleft()
                else:
                    half = len(part.records) // 2
                    parts.popleft()
                    parts.extendleft([_Part(part.records[half:], part.attempts), _Part(part.records[:half], part.attempts)])
                continue
            self._iterator_age(part.records)
            outcome = await self.deps.dispatcher.invoke_batch(self.mapping, event, self._expiry(part.records))
            if outcome is None:
                continue  # could not run before the records expired: dropped by age next round
            part.invokes += 1
            failing = self._failing(part.records, outcome, accept)
            if not failing:
                await self.settle(part.records, None)
                parts.popleft()
                continue
            done = part.records[:len(part.records) - len(failing)]
            if done:
                await self.settle(done, None)
            part.records = failing
            if self.bisect and len(failing) > 1:
                half = len(failing) // 2
                parts.popleft()
                parts.extendleft([_Part(failing[half:], part.attempts, part.invokes),
                                  _Part(failing[:half], part.attempts, part.invokes)])
                continue
            part.attempts += 1
            if self.max_retries != -1 and part.attempts > self.max_retries:
                await self._discard(part, "RetryAttemptsExhausted", outcome, event)
                parts.popleft()
                continue
            delay = min(MAX_RETRY_DELAY_SECONDS, RETRY_DELAY_SECONDS * 2 ** (part.attempts - 1))
            if await self.stopping.sleep(delay):
                return False
        return True

    def _failing(self, records: list[StreamRecord], outcome: Outcome, accept: ResponseCheck | None
                 ) -> list[StreamRecord]:
        """The records to retry after this outcome (a suffix of `records`)."""
        if outcome.failed:
            return records
        response = outcome.response()
        if accept is not None and not accept(response):
            return records
        if not self.mapping.report_batch_item_failures:
            return records[:0]
        failed = reported_failures(response, {r.sequence for r in records})
        if failed is WHOLE_BATCH:
            return records
        if not failed:
            return records[:0]
        lowest = min(int(sequence) for sequence in failed)
        return [r for r in records if r.number >= lowest]

    async def _drop_expired(self, part: _Part) -> bool:
        """Discard records past MaximumRecordAgeInSeconds; False if none are left."""
        if self.max_age == -1:
            return True
        limit = time.time() - self.max_age
        expired = [r for r in part.records if r.arrival < limit]
        if expired:
            part.records = [r for r in part.records if r.arrival >= limit]
            await self._discard(_Part(expired, part.attempts, part.invokes), "RecordAgeExceeded", None, b"")
        return bool(part.records)

    def _expiry(self, records: list[StreamRecord]) -> float | None:
        return None if self.max_age == -1 else min(r.arrival for r in records) + self.max_age

    async def _discard(self, part: _Part, condition: str, outcome: Outcome | None, event: bytes) -> None:
        await self.settle(part.records, DiscardedBatch(condition, part.invokes, outcome,
                                                       self.batch_info(part.records), event))

    def _iterator_age(self, records: list[StreamRecord]) -> None:
        age_ms = max(0.0, (time.time() - records[-1].arrival) * 1000)
        self.deps.metrics.add(self.mapping.account_id, self.mapping.region, self.mapping.function_name,
                              "IteratorAge", age_ms)

