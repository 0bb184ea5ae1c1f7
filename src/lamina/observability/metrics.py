"""Lambda's CloudWatch metrics (namespace AWS/Lambda), counted in memory on the request
path and written to the store in the background, so counts survive restarts.

The invoke path counts into one `FunctionCounters` per function: a few integer adds per
invocation, turned into the metrics' aggregates only when read or written.

A count that must agree exactly with durable state even across kill -9 (events accepted)
is written in the caller's own transaction instead: `durable_add`, then `durable_added`."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lamina.store.state import StateStore, transaction

log = logging.getLogger("lamina.metrics")

SCHEMA = """
CREATE TABLE IF NOT EXISTS metrics (
    account TEXT NOT NULL, region TEXT NOT NULL, function TEXT NOT NULL, name TEXT NOT NULL,
    total REAL NOT NULL, samples INTEGER NOT NULL, maximum REAL,
    PRIMARY KEY (account, region, function, name)
);
"""

FLUSH_SECONDS = 2.0


@dataclass
class Aggregate:
    total: float = 0.0
    samples: int = 0
    maximum: float | None = None

    def add(self, value: float) -> None:
        self.total += value
        self.samples += 1
        self.maximum = value if self.maximum is None else max(self.maximum, value)

    def merge(self, other: Aggregate) -> None:
        self.total += other.total
        self.samples += other.samples
        if other.maximum is not None:
            self.maximum = other.maximum if self.maximum is None else max(self.maximum, other.maximum)


Key = tuple[str, str, str, str]
FunctionKey = tuple[str, str, str]  # account, region, function


@dataclass(slots=True)
class FunctionCounters:
    """What the invoke path counts for one function since its counters were last drained."""

    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    provisioned: int = 0  # invocations on provisioned concurrency
    spillover: int = 0  # invocations of a function with provisioned concurrency that got none
    duration_total: float = 0.0
    duration_max: float = 0.0  # meaningful once `invocations` > 0

    def invoked(self, duration_ms: float, failed: bool, has_provisioned: bool, on_provisioned: bool) -> None:
        self.invocations += 1
        self.duration_total += duration_ms
        if duration_ms > self.duration_max or self.invocations == 1:
            self.duration_max = duration_ms
        if failed:
            self.errors += 1
        if has_provisioned:
            if on_provisioned:
                self.provisioned += 1
            else:
                self.spillover += 1

    def aggregates(self) -> dict[str, Aggregate]:
        """The counts as the metrics they are, leaving out those with nothing counted."""
        counts = {"Invocations": self.invocations, "Errors": self.errors, "Throttles": self.throttles,
                  "ProvisionedConcurrencyInvocations": self.provisioned,
                  "ProvisionedConcurrencySpilloverInvocations": self.spillover}
        result = {name: Aggregate(float(n), n, 1.0) for name, n in counts.items() if n}
        if self.invocations:
            result["Duration"] = Aggregate(self.duration_total, self.invocations, self.duration_max)
        return result

    def drain(self) -> dict[str, Aggregate]:
        aggregates = self.aggregates()
        self.invocations = self.errors = self.throttles = self.provisioned = self.spillover = 0
        self.duration_total = self.duration_max = 0.0
        return aggregates


class Metrics:
    def __init__(self, store: StateStore) -> None:
        store.add_schema(SCHEMA)
        self.store = store
        self._persisted: dict[Key, Aggregate] = {}
        self._unflushed: dict[Key, Aggregate] = defaultdict(Aggregate)
        self._counters: dict[FunctionKey, FunctionCounters] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        rows = await self.store.run(lambda db: db.execute(
            "SELECT account, region, function, name, total, samples, maximum FROM metrics").fetchall())
        self._persisted = {tuple(r[:4]): Aggregate(r[4], r[5], r[6]) for r in rows}
        self._task = asyncio.create_task(self._flush_forever())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()

    def wipe(self) -> None:
        self._persisted.clear()
        self._unflushed.clear()
        self._counters.clear()

    def counters(self, key: FunctionKey) -> FunctionCounters:
        """The invoke path's counters of function `key`; look them up per use (`wipe` drops them)."""
        counters = self._counters.get(key)
        if counters is None:
            counters = self._counters[key] = FunctionCounters()
        return counters

    def add(self, account: str, region: str, function: str, name: str, value: float = 1.0) -> None:
        self._unflushed[(account, region, function, name)].add(value)

    def durable_add(self, account: str, region: str, function: str, name: str,
                    value: float = 1.0) -> Callable[[sqlite3.Connection], None]:
        """A write adding `value` to the stored metric; run it in the transaction that makes
        what it counts durable, then call `durable_added` with the same arguments."""
        aggregate = Aggregate()
        aggregate.add(value)
        return lambda db: _upsert(db, (account, region, function, name), aggregate)

    def durable_added(self, account: str, region: str, function: str, name: str, value: float = 1.0) -> None:
        self._persisted.setdefault((account, region, function, name), Aggregate()).add(value)

    def snapshot(self, account: str, region: str, function: str | None = None) -> dict[str, dict[str, Any]]:
        """{function: {metric: {sum, samples, max}}} including what is not yet written."""
        merged: dict[Key, Aggregate] = {}
        for source in (self._persisted, self._unflushed, self._counted()):
            for key, value in source.items():
                if key[0] != account or key[1] != region or (function and key[2] != function):
                    continue
                merged.setdefault(key, Aggregate()).merge(value)
        result: dict[str, dict[str, Any]] = defaultdict(dict)
        for (_, _, fn, name), value in sorted(merged.items()):
            result[fn][name] = {"sum": value.total, "samples": value.samples, "max": value.maximum}
        return dict(result)

    def _counted(self) -> dict[Key, Aggregate]:
        return {(*key, name): value for key, counters in self._counters.items()
                for name, value in counters.aggregates().items()}

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:
                log.exception("writing metrics failed; will retry")

    async def flush(self) -> None:
        for key, counters in self._counters.items():
            for name, value in counters.drain().items():
                self._unflushed[(*key, name)].merge(value)
        if not self._unflushed:
            return
        batch, self._unflushed = self._unflushed, defaultdict(Aggregate)

        def _write(db: sqlite3.Connection) -> None:
            with transaction(db):
                for key, value in batch.items():
                    _upsert(db, key, value)

        try:
            await self.store.run(_write)
        except BaseException:
            for key, value in batch.items():
                self._unflushed[key].merge(value)
            raise
        for key, value in batch.items():
            self._persisted.setdefault(key, Aggregate()).merge(value)


def _upsert(db: sqlite3.Connection, key: Key, value: Aggregate) -> None:
    db.execute(
        "INSERT INTO metrics (account, region, function, name, total, samples, maximum) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT (account, region, function, name) DO UPDATE SET "
        "total = total + excluded.total, samples = samples + excluded.samples, "
        "maximum = MAX(COALESCE(maximum, excluded.maximum), excluded.maximum)",
        (*key, value.total, value.samples, value.maximum))
