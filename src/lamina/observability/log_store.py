"""Function logs in the CloudWatch Logs model: groups, streams and events.

Appending is the invoke path's only contact with logs, so it does no I/O: events go into
an in-memory buffer that a background task commits in batches, one transaction each.
Reads flush the buffer first, so a caller always sees what was appended before it asked.

The buffer is bounded (MAX_BUFFERED_BYTES). While the store fails, writes are retried with
back-off and what is appended is kept until the buffer is full; beyond that new events are
dropped, never blocking an invocation, and counted (`dropped_events`, in
`/_lamina/health`) with a warning at most once per DROP_WARNING_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lamina.backoff import exponential_delay
from lamina.store.state import StateStore, transaction

log = logging.getLogger("lamina.logs")

SCHEMA = """
CREATE TABLE IF NOT EXISTS log_groups (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    created INTEGER NOT NULL, retention_days INTEGER,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS log_streams (
    account TEXT NOT NULL, region TEXT NOT NULL, log_group TEXT NOT NULL, name TEXT NOT NULL,
    created INTEGER NOT NULL, first_event INTEGER, last_event INTEGER, last_ingestion INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, region, log_group, name)
);
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL, region TEXT NOT NULL, log_group TEXT NOT NULL, log_stream TEXT NOT NULL,
    timestamp INTEGER NOT NULL, ingestion INTEGER NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (account, region, log_group, log_stream, id);
CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (account, region, log_group, timestamp);
"""

FLUSH_INTERVAL_SECONDS = 0.2
FLUSH_BATCH = 5_000
MAX_BUFFERED_BYTES = 64 << 20
EVENT_OVERHEAD_BYTES = 26  # as CloudWatch Logs counts an event's size
MAX_RETRY_SECONDS = 30.0
DROP_WARNING_SECONDS = 60.0


@dataclass(frozen=True)
class LogEvent:
    id: int
    stream: str
    timestamp: int
    ingestion: int
    message: str


Batch = tuple[str, str, str, str, Sequence[tuple[int, str]]]


class LogStore:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        store.add_schema(SCHEMA)
        self._buffer: list[Batch] = []
        self._buffered_events = 0
        self._pending_bytes = 0  # in `_buffer`
        self._writing_bytes = 0  # taken by the write in progress
        self.dropped_events = 0
        self._dropped_unreported = 0
        self._last_drop_warning = float("-inf")
        self._failures = 0
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task | None = None
        self._flush_lock = asyncio.Lock()

    @property
    def buffered_bytes(self) -> int:
        """Appended and not yet committed: waiting or being written."""
        return self._pending_bytes + self._writing_bytes

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever())

    async def close(self) -> None:
        if self._flusher:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.flush()

    async def wipe(self) -> None:
        async with self._flush_lock:
            self._buffer.clear()
            self._buffered_events = 0
            self._pending_bytes = 0

    # ------------------------------------------------------------ writing

    def append(self, account: str, region: str, group: str, stream: str, events: Sequence[tuple[int, str]]) -> None:
        """Queue events (timestamp in ms, message) for `group`/`stream`, creating both as needed."""
        if not events:
            return
        size = _size(events)
        if self.buffered_bytes + size > MAX_BUFFERED_BYTES:
            self._drop(len(events))
            return
        self._buffer.append((account, region, group, stream, events))
        self._buffered_events += len(events)
        self._pending_bytes += size
        if self._buffered_events >= FLUSH_BATCH:
            self._wake.set()

    def _drop(self, count: int) -> None:
        self.dropped_events += count
        self._dropped_unreported += count
        now = time.monotonic()
        if now - self._last_drop_warning >= DROP_WARNING_SECONDS:
            log.warning("the log buffer is full (%d bytes waiting for the store): dropped %d log events "
                        "(%d in all since start)", self.buffered_bytes, self._dropped_unreported, self.dropped_events)
            self._last_drop_warning = now
            self._dropped_unreported = 0

    async def _flush_forever(self) -> None:
        while True:
            wait = FLUSH_INTERVAL_SECONDS
            if self._failures:
                wait = exponential_delay(self._failures, FLUSH_INTERVAL_SECONDS, MAX_RETRY_SECONDS)
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                self._failures += 1
                if self._failures == 1:
                    log.exception("writing logs failed; retrying with back-off, buffering up to %d bytes",
                                  MAX_BUFFERED_BYTES)
            else:
                if self._failures:
                    log.warning("writing logs works again after %d failed attempts", self._failures)
                self._failures = 0

    async def flush(self) -> None:
        async with self._flush_lock:
            if not self._buffer:
                return
            batches, self._buffer, self._buffered_events = self._buffer, [], 0
            self._writing_bytes, self._pending_bytes = self._pending_bytes, 0
            try:
                await self.store.run(_write, batches, int(time.time() * 1000))
            except BaseException:
                self._buffer[:0] = batches  # keep them for the next attempt
                self._buffered_events += sum(len(b[4]) for b in batches)
                self._pending_bytes += self._writing_bytes
                raise
            finally:
                self._writing_bytes = 0

    # ------------------------------------------------------------ groups and streams

    async def create_group(self, account: str, region: str, name: str) -> bool:
        """False if it already existed."""
        await self.flush()

        def _create(db: sqlite3.Connection) -> bool:
            cursor = db.execute("INSERT OR IGNORE INTO log_groups (account, region, name, created) VALUES (?,?,?,?)",
                                (account, region, name, int(time.time() * 1000)))
            return cursor.rowcount == 1

        return await self.store.run(_create)

    async def delete_group(self, account: str, region: str, name: str) -> bool:
        await self.flush()

        def _delete(db: sqlite3.Connection) -> bool:
            with transaction(db):
                found = db.execute("DELETE FROM log_groups WHERE account=? AND region=? AND name=?",
                                   (account, region, name)).rowcount
                db.execute("DELETE FROM log_streams WHERE account=? AND region=? AND log_group=?",
                           (account, region, name))
                db.execute("DELETE FROM log_events WHERE account=? AND region=? AND log_group=?",
                           (account, region, name))
            return found == 1

        return await self.store.run(_delete)

    async def create_stream(self, account: str, region: str, group: str, name: str) -> bool:
        await self.flush()

        def _create(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "INSERT OR IGNORE INTO log_streams (account, region, log_group, name, created) VALUES (?,?,?,?,?)",
                (account, region, group, name, int(time.time() * 1000)))
            return cursor.rowcount == 1

        return await self.store.run(_create)

    async def delete_stream(self, account: str, region: str, group: str, name: str) -> bool:
        await self.flush()

        def _delete(db: sqlite3.Connection) -> bool:
            with transaction(db):
                found = db.execute("DELETE FROM log_streams WHERE account=? AND region=? AND log_group=? AND name=?",
                                   (account, region, group, name)).rowcount
                db.execute("DELETE FROM log_events WHERE account=? AND region=? AND log_group=? AND log_stream=?",
                           (account, region, group, name))
            return found == 1

        return await self.store.run(_delete)

    async def set_retention(self, account: str, region: str, group: str, days: int | None) -> bool:
        def _set(db: sqlite3.Connection) -> bool:
            return db.execute("UPDATE log_groups SET retention_days=? WHERE account=? AND region=? AND name=?",
                              (days, account, region, group)).rowcount == 1

        return await self.store.run(_set)

    # ------------------------------------------------------------ reading

    async def groups(self, account: str, region: str, prefix: str = "") -> list[dict[str, Any]]:
        await self.flush()

        def _groups(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT g.name, g.created, g.retention_days, "
                "(SELECT COALESCE(SUM(stored_bytes), 0) FROM log_streams s "
                " WHERE s.account=g.account AND s.region=g.region AND s.log_group=g.name) "
                "FROM log_groups g WHERE account=? AND region=? AND name >= ? ORDER BY name",
                (account, region, prefix))
            return [{"name": n, "created": c, "retention_days": r, "stored_bytes": b}
                    for n, c, r, b in rows if n.startswith(prefix)]

        return await self.store.run(_groups)

    async def group_exists(self, account: str, region: str, group: str) -> bool:
        await self.flush()

        def _exists(db: sqlite3.Connection) -> bool:
            return db.execute("SELECT 1 FROM log_groups WHERE account=? AND region=? AND name=?",
                              (account, region, group)).fetchone() is not None

        return await self.store.run(_exists)

    async def streams(self, account: str, region: str, group: str) -> list[dict[str, Any]]:
        await self.flush()

        def _streams(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT name, created, first_event, last_event, last_ingestion, stored_bytes FROM log_streams "
                "WHERE account=? AND region=? AND log_group=?", (account, region, group))
            return [{"name": n, "created": c, "first_event": f, "last_event": la, "last_ingestion": i,
                     "stored_bytes": b} for n, c, f, la, i, b in rows]

        return await self.store.run(_streams)

    async def stream_events(self, account: str, region: str, group: str, stream: str, *, after_id: int | None = None,
                            before_id: int | None = None, start: int | None = None, end: int | None = None,
                            limit: int, newest: bool = False) -> list[LogEvent]:
        """Events of one stream in id (arrival) order. `newest` takes the last `limit` events."""
        await self.flush()
        sql = ["SELECT id, log_stream, timestamp, ingestion, message FROM log_events "
               "WHERE account=? AND region=? AND log_group=? AND log_stream=?"]
        args: list[Any] = [account, region, group, stream]
        _bounds(sql, args, after_id, before_id, start, end)
        descending = newest or before_id is not None
        sql.append(f"ORDER BY id {'DESC' if descending else 'ASC'} LIMIT ?")
        args.append(limit)
        rows = await self.store.run(lambda db: db.execute(" ".join(sql), args).fetchall())
        events = [LogEvent(*row) for row in rows]
        return events[::-1] if descending else events

    async def group_events(self, account: str, region: str, group: str, *, streams: Sequence[str] | None = None,
                           stream_prefix: str | None = None, start: int | None = None, end: int | None = None,
                           after: tuple[int, int] | None = None, limit: int) -> list[LogEvent]:
        """Events of a group across streams, ordered by (timestamp, arrival); `after` is the
        (timestamp, id) of the last event the caller has seen."""
        await self.flush()
        sql = ["SELECT id, log_stream, timestamp, ingestion, message FROM log_events "
               "WHERE account=? AND region=? AND log_group=?"]
        args: list[Any] = [account, region, group]
        if streams:
            sql.append(f"AND log_stream IN ({','.join('?' * len(streams))})")
            args.extend(streams)
        if stream_prefix:
            sql.append("AND substr(log_stream, 1, ?) = ?")
            args.extend([len(stream_prefix), stream_prefix])
        _bounds(sql, args, None, None, start, end)
        if after is not None:
            sql.append("AND (timestamp > ? OR (timestamp = ? AND id > ?))")
            args.extend([after[0], after[0], after[1]])
        sql.append("ORDER BY timestamp, id LIMIT ?")
        args.append(limit)
        rows = await self.store.run(lambda db: db.execute(" ".join(sql), args).fetchall())
        return [LogEvent(*row) for row in rows]


def _bounds(sql: list[str], args: list[Any], after_id: int | None, before_id: int | None, start: int | None,
            end: int | None) -> None:
    if after_id is not None:
        sql.append("AND id > ?")
        args.append(after_id)
    if before_id is not None:
        sql.append("AND id < ?")
        args.append(before_id)
    if start is not None:
        sql.append("AND timestamp >= ?")
        args.append(start)
    if end is not None:
        sql.append("AND timestamp <= ?")
        args.append(end)


def _size(events: Sequence[tuple[int, str]]) -> int:
    return sum(len(message) + EVENT_OVERHEAD_BYTES for _, message in events)


def _write(db: sqlite3.Connection, batches: list[Batch], now_ms: int) -> None:
    with transaction(db):
        for account, region, group, stream, events in batches:
            db.execute("INSERT OR IGNORE INTO log_groups (account, region, name, created) VALUES (?,?,?,?)",
                       (account, region, group, now_ms))
            first = min(ts for ts, _ in events)
            last = max(ts for ts, _ in events)
            size = sum(len(message) for _, message in events)
            db.execute(
                "INSERT INTO log_streams (account, region, log_group, name, created, first_event, last_event, "
                "last_ingestion, stored_bytes) VALUES (?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (account, region, log_group, name) DO UPDATE SET "
                "first_event = MIN(COALESCE(first_event, excluded.first_event), excluded.first_event), "
                "last_event = MAX(COALESCE(last_event, excluded.last_event), excluded.last_event), "
                "last_ingestion = excluded.last_ingestion, stored_bytes = stored_bytes + excluded.stored_bytes",
                (account, region, group, stream, now_ms, first, last, now_ms, size))
            db.executemany(
                "INSERT INTO log_events (account, region, log_group, log_stream, timestamp, ingestion, message) "
                "VALUES (?,?,?,?,?,?,?)",
                [(account, region, group, stream, ts, now_ms, message) for ts, message in events])
