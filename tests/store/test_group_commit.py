"""Group commit: a failing write fails only its own caller, and close() leaves no caller waiting."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from lamina.store.group_commit import GroupCommitter, StoreClosedError
from lamina.store.state import StateStore

TABLE = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);"


async def _open(tmp_path) -> tuple[StateStore, GroupCommitter]:
    store = StateStore(tmp_path / "state.db")
    store.add_schema(TABLE)
    await store.open()
    commits = GroupCommitter(store)
    await commits.start()
    return store, commits


def _insert(value: str):
    def write(db: sqlite3.Connection) -> int:
        return db.execute("INSERT INTO items (value) VALUES (?)", (value,)).lastrowid

    return write


async def _values(store: StateStore) -> list[str]:
    return [r[0] for r in await store.run(lambda db: db.execute("SELECT value FROM items ORDER BY id").fetchall())]


def test_a_failing_write_fails_only_its_caller(tmp_path) -> None:
    async def scenario() -> None:
        store, commits = await _open(tmp_path)

        def half_then_fail(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO items (value) VALUES ('half-done')")
            raise ValueError("bad write")

        futures = [commits.submit(_insert(f"v{i}")) for i in range(100)]
        futures.insert(50, commits.submit(half_then_fail))
        futures.append(commits.submit(_insert("v0")))  # violates UNIQUE
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert isinstance(results[50], ValueError)
        assert isinstance(results[-1], sqlite3.IntegrityError)
        others = results[:50] + results[51:-1]
        assert all(isinstance(r, int) for r in others), others
        assert await _values(store) == [f"v{i}" for i in range(100)]  # the failed writes left nothing
        await commits.close()
        await store.close()

    asyncio.run(scenario())


def test_a_write_that_aborts_the_transaction_is_retried_without(tmp_path) -> None:
    async def scenario() -> None:
        store, commits = await _open(tmp_path)

        def abort(db: sqlite3.Connection) -> None:
            db.execute("ROLLBACK")  # as SQLite does itself on some errors (disk full)
            raise sqlite3.OperationalError("database or disk is full")

        futures = [commits.submit(_insert("a")), commits.submit(abort), commits.submit(_insert("b"))]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert isinstance(results[1], sqlite3.OperationalError)
        assert isinstance(results[0], int) and isinstance(results[2], int)
        assert await _values(store) == ["a", "b"]
        await commits.close()
        await store.close()

    asyncio.run(scenario())


def test_close_resolves_every_future(tmp_path) -> None:
    async def scenario() -> None:
        store, commits = await _open(tmp_path)
        futures = [commits.submit(_insert(f"v{i}")) for i in range(12_000)]  # more than one batch
        await asyncio.sleep(0)  # let the first batch reach the database thread
        await commits.close()
        assert all(f.done() for f in futures)
        assert all(f.exception() is None for f in futures)
        assert len(await _values(store)) == 12_000
        late = commits.submit(_insert("late"))
        with pytest.raises(StoreClosedError):
            await late
        await store.close()

    asyncio.run(scenario())
