"""Deliveries owed to destinations and dead-letter queues, kept until they succeed.

A delivery row is written in the same transaction that finishes its event, so nothing is
owed without being recorded. Failed sends are retried with exponential back-off and
counted (`DestinationDeliveryFailures`, `DeadLetterErrors`); after `GIVE_UP_SECONDS` a
delivery is dropped, logged and recorded in the async history, never silently.
"""

from __future__ import annotations

import asyncio
import heapq
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
"""

GIVE_UP_SECONDS = 24 * 3600
MAX_BACKOFF_SECONDS = 300
CONCURRENT_SENDS = 16
FAILURE_METRIC = {"destination": "DestinationDeliveryFailures", "dead-letter": "DeadLetterErrors"}


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


class Outbox:
    def __init__(self, store: StateStore, commits: GroupCommitter, senders: Senders, metrics: Metrics,
                 history: AsyncHistory) -> None:
        store.add_schema(SCHEMA)
        self.store = store
        self.commits = commits
        self.senders = senders
        self.metrics = metrics
        self.history = history
        self.pending: dict[int, Delivery] = {}
        self._due: list[tuple[float, int]] = []
        self._wake = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._sending: set[asyncio.Task] = set()
        self._slots = asyncio.Semaphore(CONCURRENT_SENDS)

    async def start(self) -> None:
        def _load(db: sqlite3.Connection) -> list[tuple]:
            return db.execute("SELECT id, kind, account, region, function, request_id, target, body, attributes, "
                              "context, created, attempts, next_attempt FROM async_outbox").fetchall()

        for row in await self.store.run(_load):
            delivery = Delivery(row[1], row[2], row[3], row[4], row[5], row[6], row[7], orjson.loads(row[8]),
                                orjson.loads(row[9]), row[0], row[10], row[11], row[12])
            self._queue(delivery)
        self._worker = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._worker:
            self._worker.cancel()
        for task in [self._worker, *self._sending]:
            if task:
                task.cancel()
        await asyncio.gather(*(t for t in [self._worker, *self._sending] if t), return_exceptions=True)

    def wipe(self) -> None:
        self.pending.clear()
        self._due.clear()

    def _queue(self, delivery: Delivery) -> None:
        self.pending[delivery.id] = delivery
        heapq.heappush(self._due, (delivery.next_attempt, delivery.id))
        self._wake.set()

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
        self._queue(delivery)

    async def _run(self) -> None:
        while True:
            now = time.time()
            while self._due and self._due[0][0] <= now:
                _, delivery_id = heapq.heappop(self._due)
                delivery = self.pending.get(delivery_id)
                if delivery is None:
                    continue
                await self._slots.acquire()
                task = asyncio.create_task(self._deliver(delivery))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            timeout = max(0.0, self._due[0][0] - time.time()) if self._due else None
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

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
            self.pending.pop(delivery.id, None)
        finally:
            self._slots.release()

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
            self.pending.pop(delivery.id, None)
            return
        log.warning("%s delivery of %s to %s failed (attempt %d): %s", delivery.kind, delivery.request_id,
                    delivery.target, delivery.attempts, error)
        delivery.next_attempt = now + exponential_delay(delivery.attempts, 2, MAX_BACKOFF_SECONDS)
        await self.commits.submit(lambda db: db.execute(
            "UPDATE async_outbox SET attempts = ?, next_attempt = ? WHERE id = ?",
            (delivery.attempts, delivery.next_attempt, delivery.id)))
        heapq.heappush(self._due, (delivery.next_attempt, delivery.id))
        self._wake.set()
