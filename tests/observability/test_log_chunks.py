"""Invocation records and log chunks: the lines rendered from a record are Lambda's, the sizes
and timestamps a chunk reports are its events', event ids stay consecutive in arrival order,
logs written by earlier versions (the `log_events` table) stay readable, and the buffer is
written out early under a burst of output."""

from __future__ import annotations

import asyncio
import base64
import sqlite3

from lamina.invoke.report import invocation_log, log_tail
from lamina.observability import log_store
from lamina.observability.invocation_log import InvocationLog
from lamina.observability.log_chunks import chunk_events, encode
from lamina.observability.log_store import LogStore
from lamina.sandbox.spec import InvokeResult, LogLine
from lamina.store.state import StateStore

RID = "8f0c3c52-7c0e-4bb4-9d2a-1c1fb5d1f0aa"
A, R, G = "000000000000", "us-east-1", "/aws/lambda/f"


def _cold_timeout() -> InvocationLog:
    return InvocationLog(RID, "3", 1_000, 2_005, 1003.7349, 7.341, 256, 14, "timeout", "Sandbox.Timedout",
                         [LogLine(990, "INIT_START Runtime Version: python:3.11.v2")],
                         [LogLine(1_000, "hello"), LogLine(2_004, "2026-12-03T06:16:30.668Z x Task timed out")])


def test_a_record_renders_lambdas_lines() -> None:
    assert _cold_timeout().events() == [
        (990, "INIT_START Runtime Version: python:3.11.v2\n"),
        (1_000, f"START RequestId: {RID} Version: 3\n"),
        (1_000, "hello\n"),
        (2_004, "2026-12-03T06:16:30.668Z x Task timed out\n"),
        (2_005, f"END RequestId: {RID}\n"),
        (2_005, f"REPORT RequestId: {RID}\tDuration: 1003.73 ms\tBilled Duration: 1012 ms\tMemory Size: 256 MB\t"
                "Max Memory Used: 14 MB\tInit Duration: 7.34 ms\tStatus: timeout\t\n"),
    ]
    crashed = InvocationLog(RID, "$LATEST", 5, 6, 0.5, None, 128, 9, "error", "Runtime.ExitError", [], [])
    assert crashed.events()[-1][1] == (f"REPORT RequestId: {RID}\tDuration: 0.50 ms\tBilled Duration: 1 ms\t"
                                       "Memory Size: 128 MB\tMax Memory Used: 9 MB\t"
                                       "Status: error\tError Type: Runtime.ExitError\t\n")
    handled = InvocationLog(RID, "$LATEST", 5, 6, 0.5, None, 128, 9, "error", "ValueError", [], [])
    assert handled.events()[-1][1].endswith("Max Memory Used: 9 MB\t\n")


def test_report_builds_the_record_and_the_tail() -> None:
    result = InvokeResult(b"1", None, "success", 2.5, 12, "s", log=[LogLine(7, "out")])
    record = invocation_log(RID, "$LATEST", result, 128)
    assert record.started_ms == 7 and record.finished_ms >= 7 and record.log is result.log  # kept, not copied
    text = "".join(message for _, message in record.events())
    assert text == (f"START RequestId: {RID} Version: $LATEST\nout\nEND RequestId: {RID}\n"
                    f"REPORT RequestId: {RID}\tDuration: 2.50 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\t"
                    "Max Memory Used: 12 MB\t\n")
    assert base64.b64decode(log_tail(record.events())).decode() == text
    quiet = invocation_log(RID, "$LATEST", InvokeResult(b"1", None, "success", 2.5, 12, "s"), 128)
    assert quiet.started_ms == quiet.finished_ms


def test_stored_sizes_are_the_rendered_lengths() -> None:
    cold = _cold_timeout()
    records = [cold, InvocationLog(RID, "$LATEST", 5, 6, 0.5, None, 128, 9, "error", "Runtime.ExitError", [], []),
               InvocationLog(RID, "12", 5, 6, 9.995, 99.999, 10240, 10240, "error", "ValueError", [], cold.log),
               InvocationLog(RID, "$LATEST", 5, 6, 12345.6789, None, 128, 1, "failure", "Sandbox.Failure", [], [])]
    for record in records:
        assert record.stored_chars() == sum(len(message) for _, message in record.events())


def test_a_chunk_holds_records_and_raw_events_in_arrival_order() -> None:
    record = _cold_timeout()
    raw = [(3_000, "written\n"), (500, "by PutLogEvents")]
    chunk = encode([record, raw, record])
    events = record.events() + raw + record.events()
    assert chunk.count == len(events)
    assert chunk.stored_chars == sum(len(message) for _, message in events)
    assert (chunk.min_ts, chunk.max_ts) == (500, 3_000)
    read = list(chunk_events(("s", 100, chunk.count, 9, chunk.data)))
    assert [(e.timestamp, e.message) for e in read] == events
    assert [e.id for e in read] == list(range(100 - chunk.count + 1, 101))
    assert {(e.stream, e.ingestion) for e in read} == {("s", 9)}


LEGACY_SCHEMA = """
CREATE TABLE log_groups (account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    created INTEGER NOT NULL, retention_days INTEGER, PRIMARY KEY (account, region, name));
CREATE TABLE log_streams (account TEXT NOT NULL, region TEXT NOT NULL, log_group TEXT NOT NULL, name TEXT NOT NULL,
    created INTEGER NOT NULL, first_event INTEGER, last_event INTEGER, last_ingestion INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (account, region, log_group, name));
CREATE TABLE log_events (id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,
    log_group TEXT NOT NULL, log_stream TEXT NOT NULL, timestamp INTEGER NOT NULL, ingestion INTEGER NOT NULL,
    message TEXT NOT NULL);
"""


def test_logs_of_an_earlier_version_stay_readable(tmp_path) -> None:
    db = sqlite3.connect(tmp_path / "state.db")
    db.executescript(LEGACY_SCHEMA)
    db.execute("INSERT INTO log_groups VALUES (?,?,?,1,NULL)", (A, R, G))
    rows = [(1, "a", 10, 50, "a1"), (2, "a", 11, 50, "a2"), (3, "b", 10, 50, "b1"), (4, "a", 12, 60, "a3"),
            (5, "b", 13, 60, "b2"), (6, "b", 14, 60, "b3")]
    db.executemany("INSERT INTO log_events VALUES (?,?,?,?,?,?,?,?)",
                   [(i, A, R, G, stream, ts, ingestion, message) for i, stream, ts, ingestion, message in rows])
    db.commit()
    db.close()

    async def scenario() -> None:
        store = StateStore(tmp_path / "state.db")
        logs = LogStore(store)
        await store.open()
        await logs.start()
        events = await logs.stream_events(A, R, G, "a", limit=100)
        assert [(e.id, e.timestamp, e.ingestion, e.message) for e in events] == [
            (i, ts, ingestion, message) for i, stream, ts, ingestion, message in rows if stream == "a"]
        newest = await logs.stream_events(A, R, G, "b", limit=2, newest=True)
        assert [e.id for e in newest] == [5, 6]
        across = await logs.group_events(A, R, G, limit=100)
        assert [(e.timestamp, e.id) for e in across] == sorted((ts, i) for i, _, ts, _, _ in rows)
        logs.append(A, R, G, "a", [(20, "new")])
        events = await logs.stream_events(A, R, G, "a", after_id=4, limit=100)
        assert [(e.id, e.message) for e in events] == [(7, "new")]  # ids go on after the old ones
        tables = await store.run(lambda db: [r[0] for r in db.execute("SELECT name FROM sqlite_master")])
        assert "log_events" not in tables
        await logs.close()
        await store.close()

    asyncio.run(scenario())


def test_a_burst_of_output_is_written_out_early(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(log_store, "FLUSH_INTERVAL_SECONDS", 3600.0)  # only the size bound flushes
    monkeypatch.setattr(log_store, "FLUSH_BYTES", 200_000)
    output = [LogLine(1, "y" * 10_000) for _ in range(10)]  # 100 kB an invocation

    async def scenario() -> None:
        store = StateStore(tmp_path / "state.db")
        logs = LogStore(store)
        await store.open()
        await logs.start()
        for n in range(20):
            result = InvokeResult(b"1", None, "success", 1.0, 1, "s", log=output)
            logs.record(A, R, G, "s", invocation_log(f"r{n}", "$LATEST", result, 128))
            await asyncio.sleep(0.05)  # the flusher gets its turn
            assert logs.buffered_bytes < 400_000
        assert logs.buffered_bytes < 400_000
        written = await store.run(lambda db: db.execute("SELECT COUNT(*) FROM log_chunks").fetchone()[0])
        assert written >= 5  # written out in slices, before any read asked for them
        await logs.close()
        await store.close()

    asyncio.run(scenario())
