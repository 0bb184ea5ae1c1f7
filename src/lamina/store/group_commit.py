"""Group commit: many small writes share one SQLite transaction (and one fsync).

Callers `await submit(fn)`; the writes that arrive while a transaction is committing are
all committed together by the next one, so throughput grows with load while each caller
still learns when its own write is durable.

Writes are isolated from each other: each runs under its own savepoint, so a write that
raises is rolled back alone and only its caller gets the error; the rest of the batch
commits. `close()` commits everything submitted before it, so no caller is left waiting.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from lamina.store.state import StateStore

T = TypeVar("T")
MAX_BATCH = 5_000

Write = Callable[[sqlite3.Connection], Any]


class StoreClosedError(RuntimeError):
    """A write submitted after the committer was closed."""


class GroupCommitter:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._pending: list[tuple[Write, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closing = False

    async def start(self) -> None:
        self._closing = False
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Commit what was submitted, then stop; later submits fail with StoreClosedError."""
        self._closing = True
        self._wake.set()
        if self._task:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while self._pending:  # never started, or its task died: commit here
            await self._commit()

    def submit(self, write: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if self._closing and self._task is None:
            future.set_exception(StoreClosedError("the state store is closed"))
            return future
        self._pending.append((write, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._commit()
            if self._closing:
                return

    async def _commit(self) -> None:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        writes = [write for write, _ in batch]
        try:
            # Shielded: once a batch is on the database thread, its callers learn how it ended.
            outcomes = await asyncio.shield(self.store.run(_write_isolated, writes))
        except Exception as error:  # the transaction itself failed (disk full, I/O error)
            outcomes = [(False, error)] * len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


class _TransactionLost(Exception):
    """A write failed in a way that made SQLite roll back the whole transaction."""


def _write_isolated(db: sqlite3.Connection, writes: list[Write]) -> list[tuple[bool, Any]]:
    """Run `writes` in one transaction, each under a savepoint. Returns (ok, result or
    exception) per write. If a failure takes the transaction with it, the batch is run
    again without that write."""
    failed: dict[int, BaseException] = {}
    while True:
        outcomes: list[tuple[bool, Any]] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for index, write in enumerate(writes):
                if index in failed:
                    outcomes.append((False, failed[index]))
                    continue
                db.execute("SAVEPOINT group_write")
                try:
                    result = write(db)
                except Exception as error:
                    if not db.in_transaction:
                        failed[index] = error
                        raise _TransactionLost from error
                    db.execute("ROLLBACK TO group_write")
                    outcomes.append((False, error))
                else:
                    outcomes.append((True, result))
                db.execute("RELEASE group_write")
            db.execute("COMMIT")
            return outcomes
        except _TransactionLost:
            continue
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
