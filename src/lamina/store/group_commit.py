"""Group commit: many small writes share one SQLite transaction (and one fsync).

Callers `await submit(fn)`; the writes that arrive while a transaction is committing are
all committed together by the next one, so throughput grows with load while each caller
still learns when its own write is durable."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from lamina.store.state import StateStore, transaction

T = TypeVar("T")
MAX_BATCH = 5_000


class GroupCommitter:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pending:
            await self._commit()

    def submit(self, write: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._commit()

    async def _commit(self) -> None:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]

        def _write(db: sqlite3.Connection) -> list[Any]:
            with transaction(db):
                return [write(db) for write, _ in batch]

        try:
            results = await self.store.run(_write)
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
