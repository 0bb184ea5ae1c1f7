"""Deliveries owed to destinations and dead-letter queues, kept until they succeed.

A delivery row is written in the same transaction that finishes its event, so nothing is
owed without being recorded. Failed sends are retried with exponential back-off and
counted (`DestinationDeliveryFailures`, `DeadLetterErrors`); after `GIVE_UP_SECONDS` a
delivery is dropped, logged and recorded in the async history, never silently.

The rows are the schedule. Memory holds only a bounded working set (WORKING_SET
deliveries, bodies included): those being sent or about to be. The rest wait in the store
and are loaded in batches as they fall due, so a destination that is down for hours costs
disk, not memory.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from lamina.backoff import exponential_delay
from lamina.invoke.async_history import AsyncHistory
from lamina.invoke.destinations import DeliveryError, Senders
from lamina.observability.metrics import Metrics
from lamina.store.group_commit import GroupCommitter
from lamina.store.state import StateStore

log = logging.getLogger("lamina.async")

SCHEMA = """
CREATE TABLE IF NOT EXISTS async_outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,            -- 'destination' | 'dead-letter'
    account TEXT NOT NULL, region TEXT NOT NULL, function TEXT NOT NULL,
    request_id TEXT NOT NULL,
    target TEXT NOT NULL,
    body BLOB NOT NULL,
    attributes TEXT NOT NULL,
    context TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS async_outbox_by_due ON async_outbox (next_attempt);
"""

GIVE_UP_SECONDS = 24 * 3600
MAX_BACKOFF_SECONDS = 300
CONCURRENT_SENDS = 16
WORKING_SET = 256
FAILURE_METRIC = {"destination": "DestinationDeliveryFailures", "dead-letter": "DeadLetterErrors"}
_COLUMNS = ("id, kind, account, region, function, request_id, target, body, attributes, context, created, attempts, "
            "next_attempt")


@dataclass
class Delivery:
    kind: str
    account_id: str
    region: str
    function: str
    request_id: str
    target: str
    body: bytes
    attributes: dict[str, Any]
    context: dict[str, Any]
    id: int = 0
    created: float = 0.0
    attempts: int = 0
    next_attempt: float = 0.0

    @classmethod
    def from_row(cls, row: tuple) -> Delivery:
        return cls(row[1], row[2], row[3], row[4], row[5], row[6], row[7], orjson.loads(row[8]),
                   orjson.loads(row[9]), row[0], row[10], row[11], row[12])


class Outbox:
    def __init__(self, store: StateStore, commits: GroupCommitter, senders: Senders, metrics: Metrics,
                 history: AsyncHistory) -> None:
        store.add_schema(SCHEMA)
        self.store = store
        self.commits = commits
        self.senders = senders
        self.metrics = metrics
        self.history = history
        self.working: dict[int, Delivery] = {}  # due now, being sent or about to be
        self._stored_due: float | None = 0.0  # earliest next attempt of a row not in `working` (None: none)
        self._wake = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._sending: set[asyncio.Task] = set()
        self._slots = asyncio.Semaphore(CONCURRENT_SENDS)

    async def start(self) -> None:
        self._stored_due = 0.0  # whatever the store holds is looked at first
        self._worker = asyncio.create_task(self._run())

    async def close(self) -> None:
        tasks = [t for t in [self._worker, *self._sending] if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def wipe(self) -> None:
        self.working.clear()
        self._stored_due = None

    async def pending_counts(self, account_id: str, region: str) -> dict[str, int]:
        """Deliveries still owed, per function."""
        rows = await self.store.run(lambda db: db.execute(
            "SELECT function, COUNT(*) FROM async_outbox WHERE account = ? AND region = ? GROUP BY function",
            (account_id, region)).fetchall())
        return dict(rows)

    def record(self, delivery: Delivery) -> Callable[[sqlite3.Connection], None]:
        """A write that stores `delivery`; run it inside the transaction finishing its event,
        then call `queued(delivery)` once that transaction has committed."""
        delivery.created = delivery.next_attempt = time.time()

        def _insert(db: sqlite3.Connection) -> None:
            cursor = db.execute(
                "INSERT INTO async_outbox (kind, account, region, function, request_id, target, body, attributes, "
                "context, created, next_attempt) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (delivery.kind, delivery.account_id, delivery.region, delivery.function, delivery.request_id,
                 delivery.target, delivery.body, orjson.dumps(delivery.attributes).decode(),
                 orjson.dumps(delivery.context).decode(), delivery.created, delivery.next_attempt))
            delivery.id = cursor.lastrowid

        return _insert

    def queued(self, delivery: Delivery) -> None:
        if len(self.working) < WORKING_SET:
            self.working[delivery.id] = delivery  # sent straight from memory
        else:
            self._stored(delivery.next_attempt)  # read back from the store when its turn comes
        self._wake.set()

    def _stored(self, due: float) -> None:
        self._stored_due = due if self._stored_due is None else min(self._stored_due, due)

    async def _run(self) -> None:
        started: set[int] = set()
        while True:
            now = time.time()
            if self._stored_due is not None and self._stored_due <= now and len(self.working) < WORKING_SET:
                await self._load_due(now)
            for delivery in list(self.working.values()):
                if delivery.id in started:
                    continue
                await self._slots.acquire()
                started.add(delivery.id)
                task = asyncio.create_task(self._deliver(delivery))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
                task.add_done_callback(lambda _, delivery_id=delivery.id: started.discard(delivery_id))
            timeout = None
            if self._stored_due is not None:
                timeout = max(0.0, self._stored_due - time.time())
                if len(self.working) >= WORKING_SET:
                    timeout = None  # a slot freeing up wakes us
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _load_due(self, now: float) -> None:
        """Fill the working set with due rows, oldest first, and learn when the next one is due."""
        loaded = list(self.working)
        room = WORKING_SET - len(loaded)

        def _load(db: sqlite3.Connection) -> tuple[list[tuple], float | None]:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS outbox_working (id INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM outbox_working")
            db.executemany("INSERT INTO outbox_working (id) VALUES (?)", [(i,) for i in loaded])
            rows = db.execute(f"SELECT {_COLUMNS} FROM async_outbox WHERE next_attempt <= ? AND id NOT IN "
                              "(SELECT id FROM outbox_working) ORDER BY next_attempt LIMIT ?", (now, room)).fetchall()
            taken = [(r[0],) for r in rows]
            db.executemany("INSERT OR IGNORE INTO outbox_working (id) VALUES (?)", taken)
            later = db.execute("SELECT MIN(next_attempt) FROM async_outbox WHERE id NOT IN "
                               "(SELECT id FROM outbox_working)").fetchone()[0]
            return rows, later

        self._stored_due = None  # from here on `_stored` collects what is stored meanwhile
        rows, later = await self.store.run(_load)
        if later is not None:
            self._stored(later)
        for row in rows:
            if row[0] not in self.working:
                self.working[row[0]] = Delivery.from_row(row)

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await self.senders.send(delivery.target, delivery.body, delivery.attributes, delivery.context)
        except DeliveryError as e:
            await self._failed(delivery, str(e))
        except Exception as e:  # a bug in a sender must not lose the delivery either
            log.exception("delivery to %s failed unexpectedly", delivery.target)
            await self._failed(delivery, f"{type(e).__name__}: {e}")
        else:
            await self.commits.submit(lambda db: db.execute("DELETE FROM async_outbox WHERE id = ?", (delivery.id,)))
        finally:
            self.working.pop(delivery.id, None)
            self._slots.release()
            self._wake.set()

    async def _failed(self, delivery: Delivery, error: str) -> None:
        delivery.attempts += 1
        self.metrics.add(delivery.account_id, delivery.region, delivery.function, FAILURE_METRIC[delivery.kind])
        now = time.time()
        if now - delivery.created > GIVE_UP_SECONDS:
            log.error("giving up on %s delivery of %s to %s after %d attempts: %s", delivery.kind,
                      delivery.request_id, delivery.target, delivery.attempts, error)

            def _drop(db: sqlite3.Connection) -> None:
                db.execute("DELETE FROM async_outbox WHERE id = ?", (delivery.id,))
                self.history.write(db, delivery.account_id, delivery.region, delivery.function, delivery.request_id,
                                   "delivery-dropped", delivery.kind, delivery.attempts,
                                   f"{delivery.target}: {error}")

            await self.commits.submit(_drop)
            return
        log.warning("%s delivery of %s to %s failed (attempt %d): %s", delivery.kind, delivery.request_id,
                    delivery.target, delivery.attempts, error)
        delivery.next_attempt = now + exponential_delay(delivery.attempts, 2, MAX_BACKOFF_SECONDS)
        await self.commits.submit(lambda db: db.execute(
            "UPDATE async_outbox SET attempts = ?, next_attempt = ? WHERE id = ?",
            (delivery.attempts, delivery.next_attempt, delivery.id)))
        self._stored(delivery.next_attempt)  # waits in the store, not in memory
