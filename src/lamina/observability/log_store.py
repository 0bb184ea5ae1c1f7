"""Function logs in the CloudWatch Logs model: groups, streams and events.

Appending is the invoke path's only contact with logs, so it does no I/O and no rendering:
an invocation's compact record (`InvocationLog`), or events written as they are, go into an
in-memory buffer that a background task commits in batches, one transaction each and one
chunk row per stream (`log_chunks`). Reads flush the buffer first, so a caller always sees
what was appended before it asked, and render the events from the chunks.

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
from typing import Any

from lamina.backoff import exponential_delay
from lamina.observability import log_chunks
from lamina.observability.invocation_log import EVENT_OVERHEAD_BYTES, Event, InvocationLog
from lamina.observability.log_chunks import Entry, LogEvent
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
""" + log_chunks.SCHEMA

FLUSH_INTERVAL_SECONDS = 0.2
FLUSH_BATCH = 5_000  # events: a flush starts early when this many wait
# A flush starts early too when this much waits: invocation records hold on to the results'
# output lines until then, so a burst of chatty invocations is written out in slices.
FLUSH_BYTES = 4 << 20
MAX_BUFFERED_BYTES = 64 << 20
MAX_RETRY_SECONDS = 30.0
DROP_WARNING_SECONDS = 60.0

__all__ = ["LogEvent", "LogStore"]

Batch = tuple[str, str, str, str, Entry]  # account, region, group, stream, entry


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
        moved = await self.store.run(_migrate)
        if moved:
            log.info("moved %d log events of an earlier version into log chunks", moved)
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

    def append(self, account: str, region: str, group: str, stream: str, events: Sequence[Event]) -> None:
        """Queue events (timestamp in ms, message) for `group`/`stream`, creating both as needed."""
        if events:
            self._queue((account, region, group, stream, events), len(events), _size(events))

    def record(self, account: str, region: str, group: str, stream: str, invocation: InvocationLog) -> None:
        """Queue an invocation's events, rendered only when read."""
        self._queue((account, region, group, stream, invocation), invocation.event_count,
                    invocation.approximate_bytes())

    def _queue(self, batch: Batch, events: int, size: int) -> None:
        if self._pending_bytes + self._writing_bytes + size > MAX_BUFFERED_BYTES:
            self._drop(events)
            return
        self._buffer.append(batch)
        self._buffered_events += events
        self._pending_bytes += size
        if self._buffered_events >= FLUSH_BATCH or self._pending_bytes >= FLUSH_BYTES:
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
                self._buffered_events += sum(_event_count(b[4]) for b in batches)
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
                db.execute("DELETE FROM log_chunks WHERE account=? AND region=? AND log_group=?",
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
                db.execute("DELETE FROM log_chunks WHERE account=? AND region=? AND log_group=? AND log_stream=?",
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
        descending = newest or before_id is not None
        sql = ["SELECT log_stream, id, count, ingestion, data FROM log_chunks "
               "WHERE account=? AND region=? AND log_group=? AND log_stream=?"]
        args: list[Any] = [account, region, group, stream]
        if after_id is not None:
            sql.append("AND id > ?")
            args.append(after_id)
        if before_id is not None:
            sql.append("AND id - count + 1 < ?")
            args.append(before_id)
        _time_bounds(sql, args, start, end)
        sql.append(f"ORDER BY id {'DESC' if descending else 'ASC'}")

        def wanted(event: LogEvent) -> bool:
            return ((after_id is None or event.id > after_id) and (before_id is None or event.id < before_id)
                    and (start is None or event.timestamp >= start) and (end is None or event.timestamp <= end))

        def _read(db: sqlite3.Connection) -> list[LogEvent]:
            found: list[LogEvent] = []
            for row in db.execute(" ".join(sql), args):
                events = [e for e in log_chunks.chunk_events(row) if wanted(e)]
                if descending:
                    found[:0] = events
                    if len(found) >= limit:
                        return found[len(found) - limit:]
                else:
                    found += events
                    if len(found) >= limit:
                        return found[:limit]
            return found

        return await self.store.run(_read)

    async def group_events(self, account: str, region: str, group: str, *, streams: Sequence[str] | None = None,
                           stream_prefix: str | None = None, start: int | None = None, end: int | None = None,
                           after: tuple[int, int] | None = None, limit: int) -> list[LogEvent]:
        """Events of a group across streams, ordered by (timestamp, arrival); `after` is the
        (timestamp, id) of the last event the caller has seen."""
        await self.flush()
        sql = ["SELECT log_stream, id, count, ingestion, data, min_ts FROM log_chunks "
               "WHERE account=? AND region=? AND log_group=?"]
        args: list[Any] = [account, region, group]
        if streams:
            sql.append(f"AND log_stream IN ({','.join('?' * len(streams))})")
            args.extend(streams)
        if stream_prefix:
            sql.append("AND substr(log_stream, 1, ?) = ?")
            args.extend([len(stream_prefix), stream_prefix])
        _time_bounds(sql, args, start if after is None else max(after[0], start or after[0]), end)
        sql.append("ORDER BY min_ts")

        def wanted(event: LogEvent) -> bool:
            return ((start is None or event.timestamp >= start) and (end is None or event.timestamp <= end)
                    and (after is None or (event.timestamp, event.id) > after))

        def _read(db: sqlite3.Connection) -> list[LogEvent]:
            found: list[LogEvent] = []
            for row in db.execute(" ".join(sql), args):
                # Chunks come by their earliest event: once `limit` events are found that are all
                # earlier than this chunk's earliest, no later chunk can displace them.
                if len(found) >= limit and row[5] > found[-1].timestamp:
                    break
                found += (e for e in log_chunks.chunk_events(row[:5]) if wanted(e))
                if len(found) >= limit:
                    found.sort(key=_time_order)
                    del found[limit:]
            found.sort(key=_time_order)
            return found

        return await self.store.run(_read)


def _time_order(event: LogEvent) -> tuple[int, int]:
    return event.timestamp, event.id


def _time_bounds(sql: list[str], args: list[Any], start: int | None, end: int | None) -> None:
    """Only chunks with an event that may be within [start, end]."""
    if start is not None:
        sql.append("AND max_ts >= ?")
        args.append(start)
    if end is not None:
        sql.append("AND min_ts <= ?")
        args.append(end)


def _size(events: Sequence[Event]) -> int:
    return sum(len(message) + EVENT_OVERHEAD_BYTES for _, message in events)


def _event_count(entry: Entry) -> int:
    return entry.event_count if isinstance(entry, InvocationLog) else len(entry)


def _migrate(db: sqlite3.Connection) -> int:
    with transaction(db):
        return log_chunks.migrate_legacy_events(db)


def _write(db: sqlite3.Connection, batches: list[Batch], now_ms: int) -> None:
    by_stream: dict[tuple[str, str, str, str], list[Entry]] = {}
    for account, region, group, stream, entry in batches:
        by_stream.setdefault((account, region, group, stream), []).append(entry)
    with transaction(db):
        last_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM log_chunks").fetchone()[0]
        for key, entries in by_stream.items():
            account, region, group, _ = key
            chunk = log_chunks.encode(entries)
            last_id += chunk.count
            db.execute("INSERT OR IGNORE INTO log_groups (account, region, name, created) VALUES (?,?,?,?)",
                       (account, region, group, now_ms))
            db.execute(
                "INSERT INTO log_streams (account, region, log_group, name, created, first_event, last_event, "
                "last_ingestion, stored_bytes) VALUES (?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (account, region, log_group, name) DO UPDATE SET "
                "first_event = MIN(COALESCE(first_event, excluded.first_event), excluded.first_event), "
                "last_event = MAX(COALESCE(last_event, excluded.last_event), excluded.last_event), "
                "last_ingestion = excluded.last_ingestion, stored_bytes = stored_bytes + excluded.stored_bytes",
                (*key, now_ms, chunk.min_ts, chunk.max_ts, now_ms, chunk.stored_chars))
            db.execute("INSERT INTO log_chunks (id, account, region, log_group, log_stream, count, min_ts, max_ts, "
                       "ingestion, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (last_id, *key, chunk.count, chunk.min_ts, chunk.max_ts, now_ms, chunk.data))
