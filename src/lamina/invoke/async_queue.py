"""The durable queue behind `InvocationType: Event`.

An event is acknowledged (202) only once its row is committed. The row stays until the
event is finished, so a crash at any moment leaves every unfinished event in the table and
it is delivered again after restart (at least once). What happens next to each event (its
attempts, when it is due) is written through too; the schedule itself lives in memory.
"""

from __future__ import annotations

import heapq
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from lamina.store.group_commit import GroupCommitter
from lamina.store.state import StateStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS async_events (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    account TEXT NOT NULL, region TEXT NOT NULL, function TEXT NOT NULL, qualifier TEXT,
    payload BLOB NOT NULL,
    received REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    throttles INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT
);
"""

# Payloads kept in memory for events waiting to run; above this, they are read back from
# the store when their turn comes.
MEMORY_BUDGET_BYTES = 256 << 20


@dataclass
class AsyncEvent:
    id: int
    request_id: str
    account_id: str
    region: str
    function: str
    qualifier: str | None
    received: float
    attempts: int = 0
    throttles: int = 0
    next_attempt: float = 0.0
    last_error: str | None = None
    payload: bytes | None = None


class AsyncQueue:
    def __init__(self, store: StateStore, commits: GroupCommitter) -> None:
        store.add_schema(SCHEMA)
        self.store = store
        self.commits = commits
        self.events: dict[int, AsyncEvent] = {}  # every unfinished event
        self.in_flight: set[int] = set()
        self._due: list[tuple[float, int]] = []  # (next_attempt, id)
        self._payload_bytes = 0

    async def load(self) -> None:
        """After a restart: everything still in the table is unfinished, in flight or not."""
        def _load(db: sqlite3.Connection) -> list[tuple]:
            return db.execute("SELECT id, request_id, account, region, function, qualifier, received, attempts, "
                              "throttles, next_attempt, last_error FROM async_events").fetchall()

        for row in await self.store.run(_load):
            event = AsyncEvent(*row)
            self._schedule(event)

    def _schedule(self, event: AsyncEvent) -> None:
        self.events[event.id] = event
        heapq.heappush(self._due, (event.next_attempt, event.id))

    # ------------------------------------------------------------ accepting

    async def accept(self, request_id: str, account_id: str, region: str, function: str, qualifier: str | None,
                     payload: bytes, also: Iterable = ()) -> AsyncEvent:
        """Returns once the event is durably stored, together with the writes `also` (its
        count) in the same transaction."""
        now = time.time()
        extra = list(also)

        def _insert(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO async_events (request_id, account, region, function, qualifier, payload, received, "
                "next_attempt) VALUES (?,?,?,?,?,?,?,?)",
                (request_id, account_id, region, function, qualifier, payload, now, now))
            for write in extra:
                write(db)
            return cursor.lastrowid

        event_id = await self.commits.submit(_insert)
        event = AsyncEvent(event_id, request_id, account_id, region, function, qualifier, now, next_attempt=now)
        if self._payload_bytes + len(payload) <= MEMORY_BUDGET_BYTES:
            event.payload = payload
            self._payload_bytes += len(payload)
        self._schedule(event)
        return event

    # ------------------------------------------------------------ taking

    def next_due_time(self) -> float | None:
        while self._due and self._due[0][1] not in self.events:
            heapq.heappop(self._due)
        return self._due[0][0] if self._due else None

    def take_due(self, now: float, limit: int) -> list[AsyncEvent]:
        taken: list[AsyncEvent] = []
        while self._due and self._due[0][0] <= now and len(taken) < limit:
            due, event_id = heapq.heappop(self._due)
            event = self.events.get(event_id)
            if event is None or event.next_attempt != due or event_id in self.in_flight:
                continue
            self.in_flight.add(event_id)
            taken.append(event)
        return taken

    async def payload(self, event: AsyncEvent) -> bytes:
        if event.payload is not None:
            return event.payload

        def _read(db: sqlite3.Connection) -> bytes:
            return db.execute("SELECT payload FROM async_events WHERE id = ?", (event.id,)).fetchone()[0]

        return await self.store.run(_read)

    # ------------------------------------------------------------ outcomes

    async def retry_later(self, event: AsyncEvent, at: float, error: str | None) -> None:
        event.next_attempt, event.last_error = at, error

        def _update(db: sqlite3.Connection) -> None:
            db.execute("UPDATE async_events SET attempts=?, throttles=?, next_attempt=?, last_error=? WHERE id=?",
                       (event.attempts, event.throttles, at, error, event.id))

        await self.commits.submit(_update)
        self.in_flight.discard(event.id)
        heapq.heappush(self._due, (at, event.id))

    def run_now(self, event: AsyncEvent) -> None:
        """Make a waiting event due at once (in memory; its stored time stays as a fallback)."""
        if event.id in self.events and event.id not in self.in_flight:
            event.next_attempt = time.time()
            heapq.heappush(self._due, (event.next_attempt, event.id))

    async def finish(self, event: AsyncEvent, also: Iterable = ()) -> None:
        """Remove the event, together with the writes that record what became of it
        (outbox rows, history) in the same transaction."""
        extra = list(also)

        def _finish(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM async_events WHERE id = ?", (event.id,))
            for write in extra:
                write(db)

        await self.commits.submit(_finish)
        self.in_flight.discard(event.id)
        self.events.pop(event.id, None)
        if event.payload is not None:
            self._payload_bytes -= len(event.payload)
            event.payload = None

    def wipe(self) -> None:
        self.events.clear()
        self.in_flight.clear()
        self._due.clear()
        self._payload_bytes = 0
