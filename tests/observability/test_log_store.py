"""The log buffer stays bounded while the store fails, counts what it drops, and catches up
when the store works again."""

from __future__ import annotations

import asyncio
import logging

from lamina.observability import log_store
from lamina.observability.log_store import LogStore
from lamina.store.state import StateStore


def test_buffer_is_bounded_while_the_store_fails(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(log_store, "MAX_BUFFERED_BYTES", 100_000)
    monkeypatch.setattr(log_store, "FLUSH_INTERVAL_SECONDS", 0.01)
    message = "x" * 974  # 1,000 bytes an event, with its overhead

    async def scenario() -> None:
        store = StateStore(tmp_path / "state.db")
        logs = LogStore(store)
        await store.open()
        working_run = store.run
        attempts = 0

        async def failing_run(fn, *args):
            nonlocal attempts
            if fn is log_store._write:
                attempts += 1
                raise OSError("disk I/O error")
            return await working_run(fn, *args)

        store.run = failing_run
        await logs.start()
        for n in range(500):
            logs.append("000000000000", "us-east-1", "/aws/lambda/f", "s", [(n, message)])  # never blocks
            if n % 50 == 0:
                await asyncio.sleep(0.02)
        assert logs.buffered_bytes <= 100_000
        assert logs.dropped_events == 500 - 100
        await asyncio.sleep(0.3)
        assert 2 <= attempts < 20  # retried, with back-off
        store.run = working_run
        await logs.flush()
        assert logs.buffered_bytes == 0
        events = await logs.stream_events("000000000000", "us-east-1", "/aws/lambda/f", "s", limit=10_000)
        assert [e.timestamp for e in events] == list(range(100))  # what was kept, in order
        await logs.close()
        await store.close()

    with caplog.at_level(logging.WARNING, logger="lamina.logs"):
        asyncio.run(scenario())
    drops = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 1  # rate-limited
    failures = [r for r in caplog.records if "writing logs failed" in r.getMessage()]
    assert len(failures) == 1
