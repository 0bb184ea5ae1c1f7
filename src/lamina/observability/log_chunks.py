"""Log chunks: how log events are stored. A flush writes one row per stream, holding every
entry appended to that stream since the last flush, JSON-encoded: an invocation's compact
record (its START, END and REPORT lines are rendered when read) or events written as they
are (PutLogEvents).

Each event still has its own id, as CloudWatch Logs tokens and eventIds need: ids are
allocated in arrival order across the whole store, and a chunk's events take consecutive
ids, the last of which is the chunk's row id (so the next free id is MAX(id) + 1).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import orjson

from lamina.observability.invocation_log import Event, InvocationLog

SCHEMA = """
CREATE TABLE IF NOT EXISTS log_chunks (
    id INTEGER PRIMARY KEY,  -- the id of its last event; its first is id - count + 1
    account TEXT NOT NULL, region TEXT NOT NULL, log_group TEXT NOT NULL, log_stream TEXT NOT NULL,
    count INTEGER NOT NULL, min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, ingestion INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_chunks_by_stream ON log_chunks (account, region, log_group, log_stream, id);
CREATE INDEX IF NOT EXISTS log_chunks_by_group ON log_chunks (account, region, log_group, min_ts);
"""

MIGRATED_CHUNK_EVENTS = 5_000  # at most, in a chunk made of an earlier version's events

# An encoded entry starts with its kind.
RAW, INVOCATION = 0, 1

Entry = InvocationLog | Sequence[Event]  # an invocation, or events as written


@dataclass(frozen=True)
class LogEvent:
    id: int
    stream: str
    timestamp: int
    ingestion: int
    message: str


@dataclass(frozen=True)
class Chunk:
    """A stream's entries of one flush, encoded, with what the stream's summary needs."""

    count: int
    min_ts: int
    max_ts: int
    stored_chars: int  # the length of all its messages (storedBytes)
    data: bytes


def encode(entries: Sequence[Entry]) -> Chunk:
    count = chars = 0
    low, high = 1 << 62, -(1 << 62)
    encoded = []
    for entry in entries:
        if type(entry) is InvocationLog:
            count += entry.event_count
            chars += entry.stored_chars()
            if entry.log or entry.init_log:
                first, last = entry.time_range()
            else:
                first, last = entry.started_ms, entry.finished_ms
            encoded.append((INVOCATION, *entry.encode()))
        else:
            count += len(entry)
            chars += sum(len(message) for _, message in entry)
            first, last = min(ts for ts, _ in entry), max(ts for ts, _ in entry)
            encoded.append((RAW, *entry))
        if first < low:
            low = first
        if last > high:
            high = last
    return Chunk(count, low, high, chars, orjson.dumps(encoded))


def decode(data: bytes) -> Iterator[Event]:
    """The chunk's events in arrival (id) order."""
    for kind, *values in orjson.loads(data):
        if kind == INVOCATION:
            yield from InvocationLog.decode(values).events()
        else:
            yield from values  # [ts, message] pairs


def chunk_events(row: tuple[str, int, int, int, bytes]) -> Iterator[LogEvent]:
    """The events of a (log_stream, id, count, ingestion, data) row."""
    stream, last_id, count, ingestion, data = row
    for event_id, (ts, message) in enumerate(decode(data), start=last_id - count + 1):
        yield LogEvent(event_id, stream, ts, ingestion, message)


def migrate_legacy_events(db: sqlite3.Connection) -> int:
    """Moves events from the `log_events` table of earlier versions into chunks, keeping their
    ids and ingestion times; returns how many there were. Run inside a transaction."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='log_events'").fetchone() is None:
        return 0
    rows = db.execute("SELECT id, account, region, log_group, log_stream, timestamp, ingestion, message "
                      "FROM log_events ORDER BY account, region, log_group, log_stream, id")
    moved = 0
    run: list[tuple] = []

    def write_run() -> None:
        first = run[0]
        events = [(ts, message) for *_, ts, _, message in run]
        db.execute("INSERT INTO log_chunks (id, account, region, log_group, log_stream, count, min_ts, max_ts, "
                   "ingestion, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (run[-1][0], *first[1:5], len(run), min(ts for ts, _ in events), max(ts for ts, _ in events),
                    first[6], orjson.dumps([(RAW, *events)])))

    # A chunk holds consecutive ids of one stream with one ingestion time (CloudWatch's).
    for row in rows:
        if run and (row[1:5] != run[-1][1:5] or row[0] != run[-1][0] + 1 or row[6] != run[-1][6]
                    or len(run) == MIGRATED_CHUNK_EVENTS):
            write_run()
            run = []
        run.append(row)
        moved += 1
    if run:
        write_run()
    db.execute("DROP TABLE log_events")
    return moved
